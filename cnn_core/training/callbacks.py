"""Keras callbacks for CNN Studio's training. Imported only when training (it imports Keras).

Each has one job. They run in this order at an epoch's end: `Validation` adds the validation
metrics, `LiveMetrics` records the epoch, then early stopping, history, checkpoints and
TensorBoard act on what was recorded. An epoch cut short by a pause is not recorded: the run
continues it later from the same batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras

from cnn_core import recipe
from cnn_core.runs.store import RunStore
from cnn_core.training import checkpoints
from cnn_core.training.live import Control, LiveRecord


class LiveMetrics(keras.callbacks.Callback):
    """Records every batch and epoch into a `LiveRecord` and honours stop and pause requests.

    Args:
        record: the thread-safe buffer the pages read.
        control: stop or pause after the current batch.
        lr_at: the learning rate at a global step, recorded with each batch.
        global_step: batches trained before this session (a resumed run continues its count).
        first_step: where the first epoch of this `fit` starts (inside the epoch when resuming).
    """

    def __init__(self, record: LiveRecord, control: Control, lr_at: Callable[[int], float], global_step=0, first_step=0):
        super().__init__()
        self.record, self.control, self.lr_at = record, control, lr_at
        self.global_step, self.first_step, self._offset = global_step, first_step, 0
        self._partial_epoch: int | None = None

    def on_train_begin(self, logs=None):
        self.record.set_status("running")
        self.model.stop_training = self.control.requested

    def on_epoch_begin(self, epoch, logs=None):
        self._offset, self.first_step = self.first_step, 0
        self._partial_epoch = epoch if self._offset else None
        self.record.start_epoch(epoch, self._offset)
        if self.control.requested:
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self.record.add_batch(self._offset + batch, logs or {}, self.lr_at(self.global_step))
        self.global_step += 1
        if self.control.requested:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.control.pause.is_set() and not self.record.epoch_complete:
            return  # paused inside the epoch: it is finished when the run resumes
        if epoch == self._partial_epoch:  # Keras only saw the batches since the resume point
            logs.update(self.record.epoch_means(epoch))
        self.record.add_epoch(epoch, {k: v for k, v in logs.items() if k != "learning_rate"})
        if self.control.requested:  # asked at the last batch: end at this epoch's end
            self.model.stop_training = True


def recorded(record: LiveRecord, epoch: int) -> bool:
    """True when `LiveMetrics` kept this epoch (it skips one cut short by a pause)."""
    rows = record.history()
    return bool(rows) and rows[-1]["epoch"] == epoch + 1


class Validation(keras.callbacks.Callback):
    """Adds `val_loss` and `val_accuracy` to an epoch's logs, except for an epoch cut short by a pause.

    Keras' own `validation_data` would also validate a half epoch before a pause.
    """

    def __init__(self, batches, record: LiveRecord, control: Control):
        super().__init__()
        self.batches, self.record, self.control = batches, record, control

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (self.control.pause.is_set() and not self.record.epoch_complete):
            return
        scores = self.model.evaluate(self.batches, verbose=0, return_dict=True)
        logs.update({f"val_{k}": float(v) for k, v in scores.items()})


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


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' early stopping on the validation loss, whose counters survive a pause and resume.

    Args:
        patience: epochs without improvement before stopping.
        state: `state()` of the previous session, or None for a new run.
    """

    def __init__(self, patience: int, state: dict | None = None):
        super().__init__(**recipe.early_stopping_args(patience))  # the recipe's, as in the exported script
        self.saved = state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.saved:
            self.wait, self.best, self.best_epoch = self.saved["wait"], self.saved["best"], self.saved["best_epoch"]

    def on_epoch_end(self, epoch, logs=None):
        if logs and "val_loss" in logs:
            super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self.saved = self.state()  # the next `fit` of the same session goes on from here
        super().on_train_end(logs)

    def state(self) -> dict:
        return {"wait": int(self.wait), "best": float(self.best), "best_epoch": int(self.best_epoch)}


class HistoryWriter(keras.callbacks.Callback):
    """After every recorded epoch, rewrites history.csv and appends the epoch's batches to batches.csv,
    so a killed run keeps its curves."""

    def __init__(self, store: RunStore, run_dir, record: LiveRecord):
        super().__init__()
        self.store, self.run_dir, self.record = store, run_dir, record
        self.flushed = store.count_batches(run_dir)

    def on_epoch_end(self, epoch, logs=None):
        if recorded(self.record, epoch):
            self.flush()

    def flush(self) -> None:
        self.store.write_history(self.run_dir, self.record.history())
        points = self.record.points_since(self.flushed)
        self.store.append_batches(self.run_dir, points)
        self.flushed += len(points)


class Checkpointer(keras.callbacks.Callback):
    """Hands a copy of the model and optimizer state to the checkpoint writer after each recorded,
    complete epoch (the writing happens in the writer's thread)."""

    def __init__(self, record: LiveRecord, writer: checkpoints.CheckpointWriter, early: ResumableEarlyStopping | None):
        super().__init__()
        self.record, self.writer, self.early = record, writer, early

    def on_epoch_end(self, epoch, logs=None):
        if not (recorded(self.record, epoch) and self.record.epoch_complete):
            return
        self.writer.submit(
            point_info(self.model, self.record, checkpoints.epoch_name(epoch + 1), self.early), checkpoints.capture(self.model)
        )


def point_info(model, record: LiveRecord, name: str, early: ResumableEarlyStopping | None) -> checkpoints.CheckpointInfo:
    """The counters of the model's current state, for a checkpoint called `name`."""
    snap = record.snapshot()
    complete = snap.step >= snap.steps_per_epoch
    last = snap.history[-1] if snap.history else {}
    return checkpoints.CheckpointInfo(
        name,
        epoch=snap.epoch + 1 if complete else snap.epoch,
        step=0 if complete else snap.step,
        global_step=int(model.optimizer.iterations.numpy()),
        batches=snap.points,
        history_rows=sum(1 for row in snap.history if row["epoch"] <= (snap.epoch + 1 if complete else snap.epoch)),
        seconds=round(record.seconds, 3),
        loss=last.get("loss"),
        val_loss=last.get("val_loss"),
        early_stopping=early.state() if early else None,
    )


class EpochReporter(keras.callbacks.Callback):
    """Calls `report(epoch, logs)` after each recorded epoch (the CLI prints its lines with it)."""

    def __init__(self, report, record: LiveRecord):
        super().__init__()
        self.report, self.record = report, record

    def on_epoch_end(self, epoch, logs=None):
        if recorded(self.record, epoch):
            self.report(epoch, dict(self.record.history()[-1]))


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, writing once per recorded epoch. Its batch hook only serves
    per-batch summaries, yet costs 0.25 ms a batch even when they are off (`update_freq="epoch"`)."""

    def __init__(self, log_dir: str, record: LiveRecord):
        super().__init__(log_dir, histogram_freq=0, write_graph=False, update_freq="epoch", profile_batch=0)
        self.record = record

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        if recorded(self.record, epoch):
            super().on_epoch_end(epoch, logs)


class LearningRateSweep(keras.callbacks.Callback):
    """For the learning-rate finder: grows the learning rate exponentially from `start` to `end` over
    `steps` batches, records each batch's own loss, and stops once the smoothed loss exceeds
    `explode` times its lowest value."""

    def __init__(self, start: float, end: float, steps: int, explode: float, report=None):
        super().__init__()
        self.start, self.factor, self.steps = start, (end / start) ** (1 / max(steps - 1, 1)), steps
        self.explode, self.report = explode, report
        self.rates, self.losses, self.exploded = [], [], False
        self._running, self._ema, self._best = 0.0, 0.0, math.inf

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.start * self.factor**batch)

    def on_train_batch_end(self, batch, logs=None):
        running = float((logs or {}).get("loss", math.nan))
        loss = running * (batch + 1) - self._running * batch  # Keras reports the epoch's running average
        self._running = running
        self.rates.append(self.start * self.factor**batch)
        self.losses.append(loss if math.isfinite(loss) else 1e9)
        self._ema = 0.9 * self._ema + 0.1 * self.losses[-1]
        smoothed = self._ema / (1 - 0.9 ** len(self.losses))
        self._best = min(self._best, smoothed)
        if not math.isfinite(loss) or (batch > 5 and smoothed > self.explode * self._best):
            self.exploded = True
            self.model.stop_training = True
        if self.report:
            self.report(batch + 1, self.steps)
