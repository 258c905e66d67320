"""A thread-safe record of a training run's progress, written by the training thread, read by pages.

Pure Python: the Keras callback (callbacks.py) feeds it, tests feed it fake logs. Keras reports
running averages since the start of the epoch; `add_batch` turns them back into each batch's own
value (weighted by batch size, as Keras averages them), so per-batch curves do not jump at every
epoch boundary.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Snapshot:
    """A consistent copy of the record for drawing (lists are copies, safe to keep)."""

    status: str
    message: str
    epochs: int
    steps_per_epoch: int
    batch_size: int
    epoch: int
    step: int
    batches: list[dict]
    history: list[dict]
    elapsed: float
    images_per_second: float
    eta_seconds: float | None

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
    _batches: list[dict] = field(default_factory=list)
    _history: list[dict] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _epoch: int = 0
    _step: int = 0
    _seen: int = 0
    _started: float | None = None
    _ended: float | None = None
    _running: dict = field(default_factory=dict)  # previous running averages in this epoch

    def set_status(self, status: str, message: str = "") -> None:
        with self._lock:
            self.status, self.message = status, message or self.message
            if status == "running" and self._started is None:
                self._started = time.perf_counter()
            if status in ("completed", "stopped", "failed", "interrupted"):
                self._ended = time.perf_counter()

    def start_epoch(self, epoch: int) -> None:
        with self._lock:
            self._epoch, self._step, self._running = epoch, 0, {}

    def _batch_size(self, step: int) -> int:
        """Keras' last batch of an epoch is smaller when the split does not divide evenly."""
        if step < self.steps_per_epoch - 1:
            return self.batch_size
        return self.train_size - self.batch_size * (self.steps_per_epoch - 1)

    def add_batch(self, step: int, logs: dict) -> dict:
        """Record batch `step` (0-based) of the current epoch from Keras' running-average logs."""
        with self._lock:
            n_before, n_now = step * self.batch_size, step * self.batch_size + self._batch_size(step)
            point = {"epoch": self._epoch, "step": step, "x": self._epoch + (step + 1) / max(self.steps_per_epoch, 1)}
            for key in ("loss", "accuracy"):
                if key in logs:
                    running = float(logs[key])
                    previous = self._running.get(key, 0.0)
                    point[key] = (running * n_now - previous * n_before) / max(n_now - n_before, 1)
                    self._running[key] = running
            self._batches.append(point)
            self._step = step + 1
            self._seen += self._batch_size(step)
            return point

    def add_epoch(self, epoch: int, logs: dict) -> None:
        """Keep the epoch's metrics and `seconds`: time since training started, at the epoch's end."""
        with self._lock:
            seconds = time.perf_counter() - self._started if self._started else 0.0
            self._history.append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}, "seconds": round(seconds, 3)})

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._ended or time.perf_counter()
            elapsed = now - self._started if self._started else 0.0
            rate = self._seen / elapsed if elapsed > 0 else 0.0
            remaining = self.epochs * self.steps_per_epoch - (self._epoch * self.steps_per_epoch + self._step)
            eta = remaining * self.batch_size / rate if rate > 0 and self.status == "running" else None
            return Snapshot(
                self.status,
                self.message,
                self.epochs,
                self.steps_per_epoch,
                self.batch_size,
                self._epoch,
                self._step,
                list(self._batches),
                list(self._history),
                elapsed,
                rate,
                eta,
            )


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """TensorBoard-style exponential moving average with bias correction (skips NaN)."""
    out, last, n = [], 0.0, 0
    for v in values:
        if v is None or math.isnan(v):
            out.append(float("nan"))
            continue
        n += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out
