"""A thread-safe record of a training run's progress, written by the training thread, read by pages.

Pure Python and numpy: the Keras callback (callbacks.py) feeds it, tests feed it fake logs.

- Keras reports running averages since the start of the epoch; `add_batch` turns them back into
  each batch's own value (weighted by batch size, as Keras averages them), so per-batch curves do
  not jump at every epoch boundary.
- Every batch is kept (`points_since` hands out the new ones, for the run's batches.csv and for
  a remote job's mirror), and each metric is also folded into a `decimate.Decimator`: a fixed number of
  buckets with their minimum, maximum and smoothed value. A snapshot copies the buckets, not the
  points, so drawing the chart costs the same at 1,000 batches or at 200,000.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cnn_core.training.decimate import Decimator, Series

METRICS = ("loss", "accuracy", "lr")
FINAL = ("completed", "stopped", "failed", "interrupted", "paused")


@dataclass
class Control:
    """Requests from outside to a training thread, honoured after the current batch."""

    stop: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)
    reason: str = ""  # why a stop came from no one's click (a time limit): the run's message says it

    @property
    def requested(self) -> bool:
        return self.stop.is_set() or self.pause.is_set()


@dataclass
class Snapshot:
    """A consistent copy of the record for drawing: bounded in size whatever the run's length."""

    status: str
    message: str
    epochs: int
    steps_per_epoch: int
    batch_size: int
    epoch: int
    step: int
    points: int
    series: dict[str, Series]
    history: list[dict]
    elapsed: float
    images_per_second: float
    eta_seconds: float | None
    warnings: list[str]

    @property
    def fraction_done(self) -> float:
        total = self.epochs * max(self.steps_per_epoch, 1)
        return min(1.0, (self.epoch * self.steps_per_epoch + self.step) / total) if total else 0.0


@dataclass
class LiveRecord:
    epochs: int
    steps_per_epoch: int
    batch_size: int
    train_size: int
    status: str = "queued"
    message: str = ""
    _points: list[dict] = field(default_factory=list)
    _history: list[dict] = field(default_factory=list)
    _series: dict[str, Decimator] = field(default_factory=lambda: {k: Decimator() for k in METRICS})
    _warnings: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _epoch: int = 0
    _step: int = 0
    _first_step: int = 0  # where this epoch's batches started (a run resumed mid-epoch starts later)
    _seen: int = 0
    _started: float | None = None
    _ended: float | None = None
    _seconds_before: float = 0.0  # training time of earlier sessions of a resumed run
    _running: dict = field(default_factory=dict)  # previous running averages in this epoch
    _remote: dict | None = None  # a mirror of a record in another process: its timing (see `mirror`)
    _preparing: bool = False  # "running" said by `prepare`: the training clock has not started

    def prepare(self, message: str) -> None:
        """The session holds its training slot and gets ready (builds the model, auto's measurement):
        status "running", saying what it does, before the training clock starts (`set_status("running")`)."""
        with self._lock:
            self.status, self.message, self._preparing = "running", message, True

    def set_status(self, status: str, message: str = "") -> None:
        with self._lock:
            kept = "" if self._preparing else self.message  # the preparation's words end with it
            self._preparing = False
            self.status, self.message = status, message or kept
            if status == "running" and self._started is None:
                self._started = time.perf_counter()
            if status in FINAL:
                self._ended = time.perf_counter()

    def warn(self, text: str) -> None:
        """Something the learner should know that does not stop training (a checkpoint that failed)."""
        with self._lock:
            self._warnings.append(text)

    def restore(self, points: list[dict], history: list[dict], seconds: float) -> None:
        """Start from an earlier session of the same run: its batches, epochs and training time."""
        with self._lock:
            for p in points:
                self._append(p)
            self._history = [dict(row) for row in history]
            self._seconds_before = seconds
            if points:
                self._epoch, self._step = int(points[-1]["epoch"]), int(points[-1]["step"]) + 1

    def start_epoch(self, epoch: int, first_step: int = 0) -> None:
        with self._lock:
            self._epoch, self._step, self._first_step, self._running = epoch, first_step, first_step, {}

    def batch_images(self, step: int) -> int:
        """Keras' last batch of an epoch is smaller when the split does not divide evenly."""
        if step < self.steps_per_epoch - 1:
            return self.batch_size
        return self.train_size - self.batch_size * (self.steps_per_epoch - 1)

    def add_batch(self, step: int, logs: dict, lr: float | None = None) -> dict:
        """Record batch `step` (0-based, within the epoch) from Keras' running-average logs."""
        with self._lock:
            n_before = (step - self._first_step) * self.batch_size
            n_now = n_before + self.batch_images(step)
            point = {"epoch": self._epoch, "step": step, "x": self._epoch + (step + 1) / max(self.steps_per_epoch, 1)}
            for key in ("loss", "accuracy"):
                if key in logs:
                    running = float(logs[key])
                    previous = self._running.get(key, 0.0)
                    point[key] = (running * n_now - previous * n_before) / max(n_now - n_before, 1)
                    self._running[key] = running
            if lr is not None:
                point["lr"] = float(lr)
            self._append(point)
            self._step = step + 1
            self._seen += self.batch_images(step)
            return point

    def _append(self, point: dict) -> None:
        self._points.append(point)
        for key, folded in self._series.items():
            folded.add(point["x"], point.get(key))

    @property
    def epoch_complete(self) -> bool:
        """True when every batch of the current epoch has been trained."""
        with self._lock:
            return self._step >= self.steps_per_epoch

    def epoch_means(self, epoch: int) -> dict[str, float]:
        """Loss and accuracy over all of an epoch's batches, weighted by batch size (as Keras averages)."""
        with self._lock:
            rows = [p for p in self._points if p["epoch"] == epoch]
        means = {}
        for key in ("loss", "accuracy"):
            pairs = [(p[key], self.batch_images(p["step"])) for p in rows if key in p]
            if pairs:
                means[key] = sum(v * n for v, n in pairs) / sum(n for _, n in pairs)
        return means

    def add_epoch(self, epoch: int, logs: dict) -> dict:
        """Keep the epoch's metrics and `seconds`: training time since the run began, at the epoch's end."""
        with self._lock:
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}, "seconds": round(self._seconds(), 3)}
            self._history.append(row)
            return row

    def _seconds(self) -> float:
        now = self._ended or time.perf_counter()
        return self._seconds_before + (now - self._started if self._started else 0.0)

    @property
    def seconds(self) -> float:
        """Training time of the whole run so far, earlier sessions included."""
        with self._lock:
            return self._seconds()

    @property
    def session_seconds(self) -> float:
        """Training time of this session alone (a class time limit counts it); 0 until training starts."""
        with self._lock:
            if self._remote is not None:
                return float(self._remote.get("session") or 0.0)
            return ((self._ended or time.perf_counter()) - self._started) if self._started else 0.0

    @property
    def epochs_recorded(self) -> int:
        with self._lock:
            return len(self._history)

    def points_since(self, start: int) -> list[dict]:
        """Copies of the batch points from index `start` on (only what is new to the caller)."""
        with self._lock:
            return [dict(p) for p in self._points[start:]]

    def history(self) -> list[dict]:
        with self._lock:
            return [dict(row) for row in self._history]

    def state(self) -> dict:
        """Where training stands, as plain data: what a mirror in another process needs besides the points."""
        snap, session = self.snapshot(), self.session_seconds
        with self._lock:
            seen = self._seen
        return {
            "session": session,
            "status": snap.status, "message": snap.message, "epoch": snap.epoch, "step": snap.step, "seen": seen,
            "elapsed": snap.elapsed, "rate": snap.images_per_second, "eta": snap.eta_seconds, "warnings": snap.warnings,
        }  # fmt: skip

    def mirror(self, points: list[dict], history: list[dict], state: dict) -> None:
        """Follow a record kept in another process (a Ray worker's): add its new batch points and take
        its epochs and state. Snapshots then report the worker's timing, not this process's."""
        with self._lock:
            for p in points:
                self._append(p)
            self._history = [dict(row) for row in history]
            self._epoch, self._step, self._seen = state["epoch"], state["step"], state["seen"]
            self.status, self.message = state["status"], state["message"]
            self._warnings = list(state["warnings"])
            self._remote = {k: state.get(k) for k in ("elapsed", "rate", "eta", "session")}

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._ended or time.perf_counter()
            elapsed = now - self._started if self._started else 0.0
            rate = self._seen / elapsed if elapsed > 0 else 0.0
            remaining = self.epochs * self.steps_per_epoch - (self._epoch * self.steps_per_epoch + self._step)
            eta = remaining * self.batch_size / rate if rate > 0 and self.status == "running" else None
            if self._remote is not None:
                elapsed, rate, eta = (
                    self._remote["elapsed"],
                    self._remote["rate"],
                    self._remote["eta"],
                )  # a mirror has no earlier sessions
            return Snapshot(
                self.status,
                self.message,
                self.epochs,
                self.steps_per_epoch,
                self.batch_size,
                self._epoch,
                self._step,
                len(self._points),
                {key: folded.series() for key, folded in self._series.items()},
                [dict(row) for row in self._history],
                self._seconds_before + elapsed,
                rate,
                eta,
                list(self._warnings),
            )
