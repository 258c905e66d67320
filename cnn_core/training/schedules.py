"""Learning-rate schedules: one formula, drawn before training and used by the optimizer.

`rate(config, step, steps_per_epoch)` is the learning rate at a global batch step. The same formula
(`recipe.formula`, which the exported script carries too) runs on numpy numbers (the Train page's
preview, the live chart's per-batch rate) and on tensors inside the optimizer (`keras_schedule`),
so what is drawn is what is used.
"""

from __future__ import annotations

import numpy as np

from cnn_core import recipe
from cnn_core.settings.config import TrainConfig

# The constants and the formula live in the recipe, which the exported script carries verbatim.
ONE_CYCLE_RISE, ONE_CYCLE_START, ONE_CYCLE_END = recipe.ONE_CYCLE_RISE, recipe.ONE_CYCLE_START, recipe.ONE_CYCLE_END
COSINE_FLOOR = recipe.COSINE_FLOOR
formula = recipe.formula


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
    if _keras_class is None:
        import keras

        @keras.saving.register_keras_serializable(package="cnn_studio")
        class StudioSchedule(recipe.schedule_class()):
            """The recipe's schedule (`formula` on the optimizer's iteration counter, so a resumed run
            continues its schedule), registered with its settings so cloning a compiled model (which
            rebuilds its optimizer) and loading a saved one find it."""

            def get_config(self):
                return {"config": self.config.to_dict(), "steps_per_epoch": self.steps_per_epoch}

            @classmethod
            def from_config(cls, saved):
                return cls(TrainConfig.from_dict(saved["config"]), saved["steps_per_epoch"])

        _keras_class = StudioSchedule
    return recipe.learning_rate(config, steps_per_epoch, _keras_class)
