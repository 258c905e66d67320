"""The run store: one folder per training run, every file written atomically.

`<runs dir>/<run id>/` holds `config.json`, `status.json`, `history.csv` (per epoch),
`metrics.json` (test results) and `model.keras`. Each is written to a temporary name and renamed,
so a crash or a kill leaves either the old file or the new one, never half of one. A run whose
status says "running" but whose process is gone (or whose pid now belongs to a newer process, see
liveness.py) is reported as "interrupted". Deleting and renaming are its owner's.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import time
from datetime import datetime
from pathlib import Path

from cnn_core.access import classroom
from cnn_core.access.classroom import owner_tag  # noqa: F401 - re-exported: runs record it
from cnn_core.errors import StudioError
from cnn_core.paths import runs_dir
from cnn_core.runs import history, liveness
from cnn_core.runs.atomic import atomic_write, locked, read_json, write_json  # noqa: F401 - re-exported
from cnn_core.runs.info import FINAL, RunInfo
from cnn_core.runs.schema import clean_findings, number_or_none, safe_label, shape_problem, shown, valid_run_id

BATCH_COLUMNS = ("epoch", "step", "x", "loss", "accuracy", "lr")


class RunStore:
    """The runs folder: creates runs and reads, updates and deletes their files."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else runs_dir()

    def new_run(self, config: dict, arch_id: str) -> Path:
        """Create a run folder with its config and a "queued" status; returns its path."""
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = f"{datetime.now():%Y%m%d-%H%M%S}-{safe_label(arch_id)}-{secrets.token_hex(2)}"  # a valid run id
        path = self.root / run_id
        path.mkdir()
        write_json(path / "config.json", {"run_id": run_id, "created": datetime.now().isoformat(timespec="seconds"), **config})
        self.set_status(path, "queued")
        return path

    def set_status(self, path: Path, status: str, message: str = "", session: dict | None = None, **extra) -> None:
        """Record the run's status with this process's identity (pid and start time: a process that
        is gone, or a new one with the same pid, later reads as interrupted).

        Read, changed and written under the run's lock, so another thread's or process's update
        in between is kept, never lost.

        Args:
            session: when a training session starts (a start, resume or fine-tune), what it was;
                status.json lists them all under "sessions".
            extra: more fields, such as `duration` (training seconds over all sessions).
        """
        with locked(path):
            previous = self._status(path)
            payload = {**previous, "status": status, "message": message, **liveness.identity(), "updated": time.time(), **extra}
            if status == "running" and "started" not in previous:
                payload["started"] = time.time()
            if status in FINAL and "duration" not in extra and "started" in payload:
                payload["duration"] = round(time.time() - payload["started"], 2)  # wall time, when training time is unknown
            if session is not None:
                payload["sessions"] = [*previous.get("sessions", []), {**session, "at": time.time(), "pid": os.getpid()}]
            write_json(path / "status.json", payload)

    def status(self, path: Path) -> dict:
        """status.json as written (empty when missing or damaged); `info` adds "interrupted"."""
        return self._status(path)

    def _status(self, path: Path) -> dict:
        try:
            return read_json(path / "status.json")
        except StudioError:
            return {}

    def write_history(self, path: Path, history: list[dict]) -> None:
        """Write the per-epoch history (one row per epoch) atomically."""
        keys = list(dict.fromkeys(k for row in history for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
        atomic_write(path / "history.csv", buf.getvalue())

    def read_history(self, path: Path) -> list[dict]:
        """The per-epoch history; empty when there is none or it cannot be read (see `run_history`)."""
        try:
            return history.rows(path / "history.csv")
        except StudioError:
            return []

    def append_batches(self, path: Path, points: list[dict]) -> None:
        """Add batch points to batches.csv (one row per trained batch; the header when it is new)."""
        if not points:
            return
        target = path / "batches.csv"
        new = not target.exists() or target.stat().st_size == 0
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=BATCH_COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(points)
        with open(target, "a", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())

    def write_batches(self, path: Path, points: list[dict]) -> None:
        """Replace batches.csv atomically (a resumed run drops what came after its checkpoint)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=BATCH_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(points)
        atomic_write(path / "batches.csv", buf.getvalue())

    def read_batches(self, path: Path) -> list[dict]:
        """Every recorded batch, oldest first; a row cut short by a killed process is left out."""
        try:
            with open(path / "batches.csv", newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except (OSError, csv.Error):
            return []
        points = []
        for row in rows:
            if None in row.values() or None in row:
                break
            point = {k: _number(v) for k, v in row.items() if v != ""}
            point["epoch"], point["step"] = int(point["epoch"]), int(point["step"])
            points.append(point)
        return points

    def count_batches(self, path: Path) -> int:
        return len(self.read_batches(path))

    def read_diagnosis(self, path: Path) -> list[dict]:
        """The findings saved with the run (metrics.json "diagnosis"), without any that break `run_schema.finding_problem`."""
        try:
            metrics = read_json(path / "metrics.json")
        except StudioError:
            return []
        return clean_findings(metrics.get("diagnosis") if isinstance(metrics, dict) else None)

    def write_metrics(self, path: Path, metrics: dict) -> None:
        write_json(path / "metrics.json", metrics)

    def save_model(self, path: Path, model) -> None:
        """Save the final model as model.keras, atomically: layers and weights, without the optimizer,
        so any Keras loads it (the optimizer state lives in the run's checkpoints).

        Built from the model's config, not `clone_model`: cloning a compiled functional model
        compiles the clone too, and its optimizer (with CNN Studio's learning-rate schedule) would
        be saved with it."""
        copy = type(model).from_config(model.get_config())
        copy.set_weights(model.get_weights())
        tmp = path / f".model-{os.getpid()}.keras"
        try:
            copy.save(tmp)
            os.replace(tmp, path / "model.keras")
        finally:
            tmp.unlink(missing_ok=True)

    def resolve(self, run: str | Path, allow_path: bool = False) -> Path:
        """The folder of a run: a run id under this store, or a run folder that is really one.

        A run id (text from a page, a link or a zip) must match `run_schema.RUN_ID`, and text that is
        a path must lead to a folder directly inside the store: nothing outside `runs/` is reached.
        A `Path` built by code, or text with `allow_path` (a path typed on the command line), may
        name a run folder anywhere.
        """
        text = str(run)
        if valid_run_id(text) and (self.root / text / "config.json").is_file() and in_store(self.root / text, self.root):
            return self.root / text
        candidate = Path(run)
        if (candidate / "config.json").is_file() and (allow_path or isinstance(run, Path) or in_store(candidate, self.root)):
            return candidate
        raise StudioError(f"no run {shown(text)} in {self.root}")

    def info(self, path: Path) -> RunInfo:
        """What the Runs list shows; a damaged folder becomes a "damaged" entry, never an error."""
        try:
            config = read_json(path / "config.json")
        except StudioError as exc:
            return RunInfo(path.name, path, "damaged", str(exc))
        damage = shape_problem(config)  # a field of the wrong type: listed with the reason, never raised
        if damage:  # whose it is still counts, when that much can be read: its owner may delete it
            owner = config["owner"] if isinstance(config.get("owner"), str) else ""
            return RunInfo(path.name, path, "damaged", damage, owner=owner)
        status = self._status(path)
        state = status.get("status", "damaged")
        if state in ("running", "queued") and not liveness.alive(status):
            state = "interrupted"
        epochs_done, best_val, damage = history.summary(path / "history.csv")  # read once per file version
        if damage:
            return RunInfo(path.name, path, "damaged", damage, owner=str(config.get("owner", "")))
        metrics = {}
        if (path / "metrics.json").exists():
            try:
                metrics = read_json(path / "metrics.json")
            except StudioError:
                state = "damaged"
        return RunInfo(
            path.name,
            path,
            state,
            str(status.get("message") or "") or ("status.json is missing or damaged" if not status else ""),
            config.get("created", ""),
            config.get("name", ""),
            config.get("note", ""),
            config.get("dataset", {}).get("name", ""),
            config.get("architecture", {}).get("name", ""),
            config.get("architecture", {}).get("params"),
            config.get("train", {}).get("epochs"),
            epochs_done,
            best_val,
            number_or_none(metrics.get("test_accuracy")),
            number_or_none(metrics.get("test_loss")),
            number_or_none(status.get("duration")),
            (path / "model.keras").is_file(),
            str(config.get("owner", "")),
            str((config.get("parent") or {}).get("run_id", "")),
            *_checkpoint_files(path),
            bool(config.get("published", False)),
        )

    def list_runs(self) -> list[RunInfo]:
        """Every run folder, newest first; damaged folders are listed, never raised."""
        if not self.root.is_dir():
            return []
        folders = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return sorted((self.info(p) for p in folders), key=lambda r: r.run_id, reverse=True)

    def delete(self, run: str | Path, owner: str | None = None) -> None:
        """Delete a run folder; refused while it is still training.

        Args:
            owner: the browser session asking; when given, only a session that controls the run
                (its owner, or the teacher in classroom mode) may delete it, or anyone a damaged
                folder whose owner cannot be read, in personal mode. None is the command line.
        """
        path = self.resolve(run)
        info = self.info(path)
        orphan = info.status == "damaged" and not info.owner and not classroom.enabled()  # no owner to ask
        if owner is not None and not orphan:
            self.check_control(path, owner, "delete")
        status = self._status(path)
        if status.get("status") in ("running", "queued") and liveness.alive(status):
            raise StudioError(
                f"this run is still {'training' if status['status'] == 'running' else 'queued'}: stop it before deleting it"
            )
        shutil.rmtree(path)

    def rename(self, run: str | Path, owner: str | None, name: str, note: str = "") -> None:
        """Give a run a name and a note; like `delete`, only for a session that controls it when `owner` is given."""
        path = self.resolve(run)
        if owner is not None:
            self.check_control(path, owner, "rename")
        update_config(path, name=name.strip(), note=note.strip())

    def check_control(self, path: Path, owner: str, action: str) -> None:
        """`StudioError` unless the session `owner` may change this run (see `classroom.can_control`)."""
        info = self.info(path)
        if not info.controlled_by(owner):
            whose = "the command line" if info.owner == "cli" else "another session"
            raise StudioError(f"run {info.run_id} belongs to {whose}: only its owner can {action} it")


def in_store(path: Path, root: Path) -> bool:
    """True when `path` is a folder directly inside `root` (symbolic links followed)."""
    try:
        return path.resolve().parent == root.resolve()
    except OSError:
        return False


def _checkpoint_files(path: Path) -> tuple[int, int]:
    """(number of whole checkpoints, their bytes): a checkpoint counts once its JSON is written."""
    found = [p.with_suffix(".npz") for p in (path / "checkpoints").glob("*.json") if p.with_suffix(".npz").is_file()]
    return len(found), sum(p.stat().st_size for p in found)


def _number(value: str):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def update_config(path: Path, **changes) -> None:
    """Change top-level fields of a run's config.json (its name or note), atomically and under the
    run's lock: two updates at once both land."""
    with locked(path):
        config = read_json(path / "config.json")
        write_json(path / "config.json", {**config, **changes})
