"""One training session as a job: what it trains, for whom, and the in-process job that trains it.

A job is controlled only by its owner (the browser session that started it, or the teacher in
classroom mode): stop, pause, cancel and resume check the owner; everyone else may watch. A job
waits in its registry's queue for its turn to train (see registry.py); a queued job that is cancelled
leaves the queue at once. A job given a time limit (the class's run time) stops when it runs out,
and evaluates and saves like a Stop.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cnn_core.access import classroom
from cnn_core.data.datasets import Dataset
from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore, owner_tag, read_json, update_config
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig, train_config_of
from cnn_core.training.diagnosis import RECENT, Finding, context_of, diagnose
from cnn_core.training.fit import Start, TrainResult, new_record, run_config, run_training
from cnn_core.training.live import FINAL, Control, Snapshot

if TYPE_CHECKING:
    from cnn_core.jobs.registry import JobRegistry

ACTIVE = ("queued", "running")
log = logging.getLogger("cnn_studio.jobs")


@dataclass
class TrainRequest:
    """What a job trains, for whom, and where it starts (a new run when `run_dir` is None)."""

    dataset: Dataset | None
    arch: ArchChoice
    config: TrainConfig
    owner: str
    run_dir: Path | None = None
    start: Start = field(default_factory=Start)
    time_limit: float | None = None  # seconds it may train (the class limit), then it stops and saves

    def key(self) -> tuple:
        """What makes two requests the same: a double-clicked Train sends the same one twice."""
        parent = self.start.parent
        return (
            self.dataset.config if self.dataset is not None else None, self.arch, self.config,
            Path(self.run_dir).name if self.run_dir else None, self.start.kind,
            (str(parent.path), parent.freeze) if parent else None,
        )  # fmt: skip


@dataclass
class ResumePlan:
    """How to continue a saved run: its settings (with any extra epochs) and its resume point."""

    run_dir: Path
    data: DataConfig
    arch: ArchChoice
    config: TrainConfig
    start: Start

    def save_settings(self) -> None:
        """Write the continued run's settings (its new total of epochs) into its config.json."""
        update_config(self.run_dir, train={**read_json(self.run_dir / "config.json").get("train", {}), **self.config.to_dict()})


def plan_resume(store: RunStore, run: str | Path, owner: str, more_epochs: int = 0) -> ResumePlan:
    """Check that `owner` may continue this run and find where it continues from.

    A paused, interrupted or failed run continues from its last checkpoint (a failed one perhaps
    to fail again, if it diverged); a completed or stopped one trains `more_epochs` more. `owner` "cli" is the command line, which may resume any run.
    Raises `StudioError` with the reason a run cannot be resumed; nothing is changed then.
    """
    from cnn_core.training import checkpoints

    run_dir = store.resolve(run)
    info = store.info(run_dir)
    if info.status in ACTIVE:
        raise StudioError(f"run {info.run_id} is still {info.status}: it cannot be resumed until it stops or pauses")
    if owner != "cli" and not info.controlled_by(owner):
        raise StudioError(f"run {info.run_id} belongs to another session (or the command line): only its owner can resume it")
    if info.status == "damaged":
        raise StudioError(f"run {info.run_id} is damaged: {info.message}")
    if info.status in ("completed", "stopped") and more_epochs < 1:
        raise StudioError(f"run {info.run_id} is {info.status}: say how many more epochs to train")
    config_json = read_json(run_dir / "config.json")
    config = train_config_of(config_json)
    point = checkpoints.resume_point(run_dir)
    if point.epoch >= config.epochs + more_epochs:
        raise StudioError(f"run {info.run_id} has trained all {config.epochs} epochs: say how many more to train")
    config = replace(config, epochs=config.epochs + more_epochs)
    config.check()
    frozen = bool((config_json.get("parent") or {}).get("freeze"))
    arch = ArchChoice.from_dict(config_json.get("architecture", {}))
    return ResumePlan(
        run_dir, DataConfig.from_dict(config_json.get("data", {})), arch, config, Start(resume=point, freeze=frozen)
    )


class TrainingJob:
    """One training session in a server-owned thread; stop and pause act after the current batch."""

    backend = "this machine"
    local_slot = True  # it takes one of this machine's training slots while it trains (see registry.py)

    def __init__(self, registry: JobRegistry, request: TrainRequest, store: RunStore):
        self.registry, self.request, self.store, self.owner = registry, request, store, request.owner
        self.key = request.key()  # before the run folder is made: a repeated request finds this job
        if request.run_dir is None:
            config = run_config(request.dataset, request.arch, request.config, owner_tag(request.owner), request.start.parent)
            request.run_dir = store.new_run(config, request.arch.preset if not request.start.parent else "finetune")
        else:
            store.set_status(request.run_dir, "queued")
        self.run_dir = request.run_dir
        self.run_id = self.run_dir.name
        self.context = context_of(read_json(self.run_dir / "config.json"))
        self._findings: tuple = (None, [])
        self.record = new_record(request.dataset, request.config)
        self.control = Control()
        self.result: TrainResult | None = None
        self._gate = threading.RLock()  # a cancel and the start of training never cross
        self._began = False
        self._timer: threading.Timer | None = None
        self.thread = threading.Thread(target=self._run, name=f"train-{self.run_id}", daemon=True)

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def snapshot(self) -> Snapshot:
        return self.record.snapshot()

    @property
    def stop_requested(self) -> bool:
        return self.control.stop.is_set()

    @property
    def pause_requested(self) -> bool:
        return self.control.pause.is_set()

    def findings(self) -> list[Finding]:
        """The diagnosis of the curves so far (live: the rules see the latest batches and epochs).

        Recomputed when an epoch ends, every 100 batches, or when the status changes: the live view
        asks every two seconds, and the answer rarely changes in between.
        """
        count = self.record.snapshot().points
        key = (self.record.epochs_recorded, count // 100, self.record.status)
        if self._findings[0] != key:
            points = self.record.points_since(max(0, count - RECENT))
            self._findings = (key, diagnose(self.record.history(), points, replace(self.context, message=self.record.message)))
        return self._findings[1]

    def controlled_by(self, owner: str) -> bool:
        """True for the session that started this job (and the teacher in classroom mode); any other only watches it."""
        return (bool(owner) and owner == self.owner) or classroom.is_teacher(owner)

    def _check(self, owner: str, action: str) -> None:
        if not self.controlled_by(owner):
            raise StudioError(f"run {self.run_id} was started in another browser session: only that session can {action} it")

    def stop(self, owner: str) -> None:
        """End after the current batch, evaluate and save; a queued job is cancelled at once. Owner only."""
        self._check(owner, "stop")
        with self._gate:
            self.control.stop.set()
            if not self._began:
                self._cancel()
        self.registry.wake()

    def cancel(self, owner: str) -> None:
        """Take a queued job out of the queue now: status "stopped", "cancelled before it started". Owner only."""
        self._check(owner, "cancel")
        with self._gate:
            if self._began:
                raise StudioError(f"run {self.run_id} has started training: stop it instead")
        self.stop(owner)

    def pause(self, owner: str) -> None:
        """Save a resume point after the current batch and free the training slot."""
        self._check(owner, "pause")
        self.control.pause.set()
        self.registry.wake()

    def wait(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def _begin(self) -> bool:
        """Training starts now, unless it was cancelled meanwhile; the run time limit starts counting."""
        with self._gate:
            if self.control.requested:
                self._cancel()
                return False
            self._began = True
            if self.request.time_limit:
                self._timer = threading.Timer(self.request.time_limit, self._time_up)
                self._timer.daemon = True
                self._timer.start()
            return True

    def _time_up(self) -> None:
        """The limit counts training time: what went to building the model and auto's measurement
        (before the training clock starts) is given back by waiting longer."""
        left = self.request.time_limit - self.record.session_seconds
        if left > 0.5 and self.record.status not in FINAL:
            with self._gate:
                self._timer = threading.Timer(left, self._time_up)
                self._timer.daemon = True
                self._timer.start()
            return
        minutes = self.request.time_limit / 60
        self.control.reason = (
            f"stopped at the class limit of {minutes:g} minute{'s' if minutes != 1 else ''} a run may train; "
            "the model keeps what it learned"
        )
        self.control.stop.set()

    def _run(self) -> None:
        if not self.registry.acquire(self, lambda: self.control.requested):
            self._cancel()
            self._end()  # a cancelled job lets go of its images too
            return
        try:
            self._train()
        except StudioError as exc:
            self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure is recorded in the run; the app stays up
            log.exception("training run %s failed on %s", self.run_id, self.backend)
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            self._end()
            self.registry.release(self)

    def _train(self) -> None:
        """Train in this thread, now that its turn has come (a Ray job drives its actor instead)."""
        if not self._begin():
            return
        r = self.request
        self.result = run_training(
            r.dataset, r.arch, r.config, self.run_dir, self.store, self.record, self.control, start=r.start
        )

    def _end(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.request = replace(self.request, dataset=None)  # let go of the images

    def _cancel(self) -> None:
        """Nothing trained in this session (cancelled, stopped or paused in the queue): say so, once."""
        with self._gate:
            if self.record.status in FINAL:
                return
            resumed = self.request.start.resume is not None
            if self.control.pause.is_set():
                status, message = "paused", "paused before this session started"
            elif resumed:  # the run keeps its resume point: it can go on later
                status, message = "paused", "cancelled before it started; resume it to continue"
            else:
                status, message = "stopped", "cancelled before it started"
            self.record.set_status(status, message)
            self.store.set_status(self.run_dir, status, message)

    def _fail(self, message: str) -> None:
        self.record.set_status("failed", message)
        self.store.set_status(self.run_dir, "failed", message)
