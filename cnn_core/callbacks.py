"""Keras callbacks for CNN Studio's training thread. Imported only when training (it imports Keras)."""

from __future__ import annotations

import math
import threading

import keras

from cnn_core.live import LiveRecord
from cnn_core.runs import RunStore


class LiveMetrics(keras.callbacks.Callback):
    """Records every batch and epoch into a `LiveRecord` and honours a stop request.

    Args:
        record: the thread-safe buffer the pages read.
        stop: set it to stop after the current batch; what was learned so far is kept.
    """

    def __init__(self, record: LiveRecord, stop: threading.Event):
        super().__init__()
        self.record, self.stop = record, stop

    def on_train_begin(self, logs=None):
        self.record.set_status("running")
        self.model.stop_training = self.stop.is_set()

    def on_epoch_begin(self, epoch, logs=None):
        self.record.start_epoch(epoch)
        if self.stop.is_set():
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self.record.add_batch(batch, logs or {})
        if self.stop.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.record.add_epoch(epoch, logs or {})


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training when the loss becomes NaN or infinite, or explodes to `factor` times its
    first batch's value (Keras computes the loss from the logits, so a diverging run often shows
    1e11 rather than NaN). Remembers where it happened and suggests a fix in `message`."""

    def __init__(self, learning_rate: float, factor: float = 1000.0):
        super().__init__()
        self.learning_rate, self.factor = learning_rate, factor
        self.message, self._epoch, self._first = "", 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if self._first is None and math.isfinite(loss):
            self._first = max(loss, 1e-3)
            return
        if not math.isfinite(loss):
            what = f"the loss became {loss}"
        elif loss > self.factor * self._first:
            what = f"the loss exploded to {loss:.3g} ({loss / self._first:,.0f} times its first value)"
        else:
            return
        self.message = (
            f"{what} at epoch {self._epoch + 1}, batch {batch + 1}: training diverged. Try a lower learning rate "
            f"(for example {self.learning_rate / 10:g} instead of {self.learning_rate:g})."
        )
        self.model.stop_training = True


class EpochReporter(keras.callbacks.Callback):
    """Calls `report(epoch, logs)` after each epoch (the CLI prints its lines with it)."""

    def __init__(self, report):
        super().__init__()
        self.report = report

    def on_epoch_end(self, epoch, logs=None):
        self.report(epoch, dict(logs or {}))


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites the run's history.csv after every epoch, so an interrupted run keeps its curves."""

    def __init__(self, store: RunStore, run_dir, record: LiveRecord):
        super().__init__()
        self.store, self.run_dir, self.record = store, run_dir, record

    def on_epoch_end(self, epoch, logs=None):
        self.store.write_history(self.run_dir, self.record.snapshot().history)


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, writing once per epoch. Its batch hook only serves per-batch
    summaries, yet costs 0.25 ms a batch even when they are off (`update_freq="epoch"`)."""

    def __init__(self, log_dir: str):
        super().__init__(log_dir, histogram_freq=0, write_graph=False, update_freq="epoch", profile_batch=0)

    def on_train_batch_end(self, batch, logs=None):
        pass
