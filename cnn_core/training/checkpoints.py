"""A run's checkpoints: model variables, optimizer state and counters, saved after every epoch.

`<run>/checkpoints/epoch-0003.npz` holds every model variable (weights, batch-norm statistics and
the random-seed states of augmentation and dropout) and every optimizer variable (Adam's moments
and its iteration counter); `epoch-0003.json` holds the counters. `resume.npz/json` is the point a
paused or stopped run continues from, which may lie inside an epoch. Each file is written to a
hidden temporary name and renamed, the JSON last: a checkpoint exists only once both are whole.

Writing happens in a background thread (`CheckpointWriter`), so an epoch's end costs the training
thread only a copy of the variables. When a run's checkpoints outgrow its disk budget, `retention`
keeps the first, the last, the best by validation loss and up to K evenly spaced.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cnn_core.errors import StudioError
from cnn_core.runs.store import atomic_write

FOLDER = "checkpoints"
RESUME = "resume"


@dataclass
class CheckpointInfo:
    """Where a checkpoint stands in its run.

    `epoch` counts the epochs completed before it; `step` the batches already trained in the next
    one (0 at an epoch's end). `batches` and `history_rows` say how much of the run's batches.csv
    and history.csv belong before it, so a resumed run keeps every epoch exactly once.
    """

    name: str
    epoch: int
    step: int = 0
    global_step: int = 0
    batches: int = 0
    history_rows: int = 0
    seconds: float = 0.0
    loss: float | None = None
    val_loss: float | None = None
    bytes: int = 0
    created: float = field(default_factory=time.time)
    early_stopping: dict | None = None

    @property
    def label(self) -> str:
        if self.step:
            return f"epoch {self.epoch} + {self.step} batches"
        return f"epoch {self.epoch}"


def folder(run_dir: Path) -> Path:
    return Path(run_dir) / FOLDER


def epoch_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}"


def capture(model) -> dict[str, np.ndarray]:
    """Copies of every model and optimizer variable (cheap: the writer thread does the disk work)."""
    arrays = {f"m{i}": np.array(v.numpy(), copy=True) for i, v in enumerate(model.variables)}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        arrays |= {f"o{i}": np.array(v.numpy(), copy=True) for i, v in enumerate(optimizer.variables)}
    return arrays


def write(run_dir: Path, info: CheckpointInfo, arrays: dict[str, np.ndarray]) -> CheckpointInfo:
    """Write one checkpoint atomically: the arrays, then the counters that make it valid."""
    target = folder(run_dir)
    target.mkdir(parents=True, exist_ok=True)
    data, tmp = target / f"{info.name}.npz", target / f".{info.name}.npz.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, data)
    finally:
        tmp.unlink(missing_ok=True)
    info.bytes = data.stat().st_size
    atomic_write(target / f"{info.name}.json", json.dumps(asdict(info), indent=1))
    return info


def _read_info(path: Path) -> CheckpointInfo | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return CheckpointInfo(**raw) if (path.with_suffix(".npz")).is_file() else None
    except (OSError, ValueError, TypeError):
        return None


def list_checkpoints(run_dir: Path) -> list[CheckpointInfo]:
    """Whole epoch checkpoints of a run, oldest first (the resume point is not among them)."""
    found = [_read_info(p) for p in sorted(folder(run_dir).glob("epoch-*.json"))]
    return [info for info in found if info is not None]


def resume_point(run_dir: Path) -> CheckpointInfo:
    """The latest point a run can continue from: its resume checkpoint or its last epoch.

    Raises `StudioError` naming the file when that checkpoint is missing or damaged.
    """
    candidates = list_checkpoints(run_dir)
    resume_json = folder(run_dir) / f"{RESUME}.json"
    if resume_json.exists():
        info = _read_info(resume_json)
        if info is None:
            raise StudioError(
                f"{resume_json.relative_to(run_dir.parent)} or its .npz is missing or damaged; the run was left as it is"
            )
        candidates.append(info)
    if not candidates:
        raise StudioError(f"run {Path(run_dir).name} has no checkpoint to continue from")
    return max(candidates, key=lambda c: (c.epoch, c.step))


def load_arrays(run_dir: Path, info: CheckpointInfo) -> dict[str, np.ndarray]:
    path = folder(run_dir) / f"{info.name}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise StudioError(f"{FOLDER}/{path.name} cannot be read ({type(exc).__name__}); the run was left as it is") from None


def restore(model, run_dir: Path, info: CheckpointInfo, optimizer: bool = True) -> None:
    """Set the model's variables (and its optimizer's, when `optimizer`) from a checkpoint.

    Every array is checked against the variable it replaces first: a checkpoint of another
    architecture, or a damaged one, raises `StudioError` and changes nothing.
    """
    arrays = load_arrays(run_dir, info)
    targets = [(f"m{i}", v) for i, v in enumerate(model.variables)]
    if optimizer:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        targets += [(f"o{i}", v) for i, v in enumerate(model.optimizer.variables)]
    expected = {k for k, _ in targets}
    present = {k for k in arrays if k.startswith("m") or (optimizer and k.startswith("o"))}
    bad = [k for k, v in targets if k not in arrays or arrays[k].shape != tuple(v.shape)]
    if bad or present != expected:
        raise StudioError(f"{FOLDER}/{info.name}.npz does not match this run's model ({len(bad)} variable(s) differ)")
    for key, variable in targets:
        variable.assign(arrays[key])


def retention(infos: list[CheckpointInfo], keep: int, budget_bytes: int) -> set[str]:
    """Names of the epoch checkpoints to keep.

    All of them while they fit `budget_bytes`; beyond that, the first, the last and the best (lowest
    validation loss, else training loss), plus up to `keep` evenly spaced, as many as fit.
    """
    if sum(i.bytes for i in infos) <= budget_bytes:
        return {i.name for i in infos}
    scored = [i for i in infos if (i.val_loss if i.val_loss is not None else i.loss) is not None]
    best = min(scored, key=lambda i: i.val_loss if i.val_loss is not None else i.loss) if scored else infos[-1]
    must = {infos[0].name, infos[-1].name, best.name}
    others = [i for i in infos if i.name not in must]
    room = budget_bytes - sum(i.bytes for i in infos if i.name in must)
    size = max(1, max((i.bytes for i in infos), default=1))
    count = max(0, min(keep, len(others), room // size))
    if not count:
        return must
    picks = np.linspace(0, len(others) - 1, count).round().astype(int)
    return must | {others[k].name for k in sorted(set(picks.tolist()))}


def prune(run_dir: Path, keep: int, budget_bytes: int) -> list[str]:
    """Delete the epoch checkpoints `retention` does not keep; returns their names."""
    infos = list_checkpoints(run_dir)
    kept = retention(infos, keep, budget_bytes)
    dropped = [i.name for i in infos if i.name not in kept]
    for name in dropped:
        for suffix in (".json", ".npz"):  # the JSON first: without it the checkpoint no longer counts
            (folder(run_dir) / f"{name}{suffix}").unlink(missing_ok=True)
    return dropped


def clean_partial(run_dir: Path) -> None:
    """Remove temporary files a killed writer left behind."""
    for tmp in folder(run_dir).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def drop_resume_point(run_dir: Path) -> None:
    for suffix in (".json", ".npz"):
        (folder(run_dir) / f"{RESUME}{suffix}").unlink(missing_ok=True)


def _drop_superseded_resume_point(run_dir: Path, info: CheckpointInfo) -> None:
    resume = _read_info(folder(run_dir) / f"{RESUME}.json")
    if resume is not None and (resume.epoch, resume.step) <= (info.epoch, info.step):
        drop_resume_point(run_dir)


class CheckpointWriter:
    """Writes checkpoints in order in one background thread, then applies the retention policy.

    A write that fails (a full disk) leaves the previous checkpoints as they were and is reported
    through `on_error(message)`; training goes on.
    """

    def __init__(self, run_dir: Path, keep: int, budget_bytes: int, on_error: Callable[[str], None]):
        self.run_dir, self.keep, self.budget, self.on_error = Path(run_dir), keep, budget_bytes, on_error
        self.written: list[CheckpointInfo] = []
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=f"checkpoints-{self.run_dir.name}", daemon=True)
        self._thread.start()

    def submit(self, info: CheckpointInfo, arrays: dict[str, np.ndarray]) -> None:
        self._queue.put((info, arrays))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            info, arrays = item
            try:
                self.written.append(write(self.run_dir, info, arrays))
                if info.name != RESUME:
                    prune(self.run_dir, self.keep, self.budget)
                    _drop_superseded_resume_point(self.run_dir, info)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                self.on_error(f"the checkpoint after {info.label} could not be written ({reason}); earlier ones are kept")
            finally:
                self._queue.task_done()

    def close(self) -> None:
        """Wait until every submitted checkpoint is written, then end the thread."""
        self._queue.put(None)
        self._thread.join()
