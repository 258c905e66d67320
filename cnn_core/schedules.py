"""Learning-rate schedules: one formula, drawn before training and used by the optimizer.

`rate(config, step, steps_per_epoch)` is the learning rate at a global batch step. The same formula
runs on numpy numbers (the Train page's preview, the live chart's per-batch rate) and on TensorFlow
tensors inside the optimizer (`keras_schedule`), so what is drawn is what is used.
"""

from __future__ import annotations

import math

import numpy as np

SCHEDULES = {
    "constant": "Constant",
    "step": "Step decay",
    "exponential": "Exponential decay",
    "cosine": "Cosine decay",
    "one-cycle": "One-cycle (rise, then cosine)",
}
ONE_CYCLE_RISE = 0.25  # share of the run spent rising, as fastai's fit_one_cycle
ONE_CYCLE_START, ONE_CYCLE_END = 1 / 25, 1e-4  # start and end as fractions of the peak rate
COSINE_FLOOR = 0.01  # cosine decay ends at 1 % of the base rate


def formula(ops, config, step, steps_per_epoch: int):
    """The learning rate at `step` (a number or a tensor), written with `ops` (numpy or keras.ops)."""
    base, per_epoch = float(config.learning_rate), float(max(steps_per_epoch, 1))
    total = float(max(config.epochs * per_epoch, 1.0))
    t = step * 1.0
    if config.schedule == "one-cycle":
        rise = ONE_CYCLE_RISE * total
        up = ops.minimum(t / rise, 1.0)
        down = ops.minimum(ops.maximum((t - rise) / (total - rise), 0.0), 1.0)
        rising = base * (ONE_CYCLE_START + (1 - ONE_CYCLE_START) * (1 - ops.cos(math.pi * up)) / 2)
        falling = base * (ONE_CYCLE_END + (1 - ONE_CYCLE_END) * (1 + ops.cos(math.pi * down)) / 2)
        return ops.where(t < rise, rising, falling)
    warmup = float(config.warmup_epochs) * per_epoch
    warm = ops.minimum((t + 1.0) / warmup, 1.0) if warmup > 0 else 1.0
    if config.schedule == "step":
        value = base * ops.power(float(config.lr_decay), ops.floor(t / (config.lr_step_epochs * per_epoch)))
    elif config.schedule == "exponential":
        value = base * ops.power(float(config.lr_decay), t / per_epoch)
    elif config.schedule == "cosine":
        progress = ops.minimum(ops.maximum((t - warmup) / max(total - warmup, 1.0), 0.0), 1.0)
        value = base * (COSINE_FLOOR + (1 - COSINE_FLOOR) * (1 + ops.cos(math.pi * progress)) / 2)
    else:
        value = base + 0.0 * t
    return value * warm


def rate(config, step: int, steps_per_epoch: int) -> float:
    """The learning rate the optimizer uses at global batch `step` (0-based)."""
    return float(formula(np, config, np.float64(step), steps_per_epoch))


def curve(config, steps_per_epoch: int, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(epoch, rate) pairs over the whole run, for the preview drawn before training."""
    total = config.epochs * max(steps_per_epoch, 1)
    steps = np.unique(np.linspace(0, total - 1, min(points, total)).round())
    return steps / max(steps_per_epoch, 1), np.asarray(formula(np, config, steps, steps_per_epoch), float) * np.ones_like(steps)


_keras_class = None


def keras_schedule(config, steps_per_epoch: int):
    """The learning rate for a Keras optimizer: a plain float when constant, else a schedule object."""
    global _keras_class
    if config.schedule == "constant" and not config.warmup_epochs:
        return config.learning_rate
    if _keras_class is None:
        import keras

        @keras.saving.register_keras_serializable(package="cnn_studio")
        class StudioSchedule(keras.optimizers.schedules.LearningRateSchedule):
            """`formula` on the optimizer's iteration counter (so a resumed run continues its schedule).
            Registered, so cloning a compiled model (which rebuilds its optimizer) finds it."""

            def __init__(self, config, steps_per_epoch):
                self.config, self.steps_per_epoch = config, steps_per_epoch

            def __call__(self, step):
                return formula(keras.ops, self.config, keras.ops.cast(step, "float32"), self.steps_per_epoch)

            def get_config(self):
                return {"config": self.config.to_dict(), "steps_per_epoch": self.steps_per_epoch}

            @classmethod
            def from_config(cls, saved):
                from cnn_core.config import TrainConfig

                return cls(TrainConfig.from_dict(saved["config"]), saved["steps_per_epoch"])

        _keras_class = StudioSchedule
    return _keras_class(config, steps_per_epoch)
