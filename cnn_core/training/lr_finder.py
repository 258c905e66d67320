"""The learning-rate finder, as fastai's `lr_find`: a short sweep with an exponentially growing rate.

The model trains for at most `steps` batches while its learning rate grows from `start` to `end`.
The loss first falls, then flattens, then explodes; the suggested rate is where the smoothed loss
falls fastest, before its minimum (the "steepest" suggestion). Nothing is saved: the model is
thrown away afterwards, and a real run starts afresh with the chosen rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cnn_core import recipe
from cnn_core.data.datasets import Dataset
from cnn_core.data.pipeline import training_batches
from cnn_core.errors import StudioError
from cnn_core.settings.config import ArchChoice, TrainConfig

EXPLODE = 4.0  # stop once the smoothed loss exceeds this many times its minimum


@dataclass
class FinderResult:
    rates: list[float]
    losses: list[float]  # each batch's own loss
    smoothed: list[float]
    suggested: float
    stopped_early: bool

    def to_dict(self) -> dict:
        return {
            "suggested_learning_rate": self.suggested, "rates": self.rates, "losses": self.losses,
            "smoothed": self.smoothed, "stopped_early": self.stopped_early,
        }  # fmt: skip


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing)."""
    out, ema = [], 0.0
    for n, v in enumerate(values, 1):
        ema = ema * weight + (1 - weight) * v
        out.append(ema / (1 - weight**n))
    return out


def suggest(rates: list[float], smoothed: list[float]) -> float:
    """The rate where the smoothed loss falls fastest (per step of log rate), before its minimum."""
    if len(rates) < 5:
        raise StudioError("the sweep was too short to suggest a learning rate: use a larger dataset or batch size")
    lowest = int(np.argmin(smoothed))
    window = slice(max(1, len(rates) // 10), max(lowest, len(rates) // 10 + 2))  # skip the noisy first steps
    slopes = np.gradient(np.asarray(smoothed), np.log(np.asarray(rates)))
    if window.stop - window.start < 2:
        return rates[lowest] / 10
    return float(rates[window.start + int(np.argmin(slopes[window]))])


def find_learning_rate(
    dataset: Dataset, arch: ArchChoice, config: TrainConfig, start: float = 1e-7, end: float = 10.0, steps: int = 100, report=None
) -> FinderResult:
    """Sweep the learning rate from `start` to `end` over `steps` batches and suggest one.

    Args:
        report: called as `report(done, steps)` after each batch (progress for the page and CLI).
    """
    import keras

    from cnn_core.training.build import build_run_model, make_optimizer
    from cnn_core.training.callbacks import LearningRateSweep

    keras.utils.set_random_seed(config.seed)
    constant = replace(config, schedule="constant", warmup_epochs=0.0, learning_rate=start)
    model = build_run_model(arch, dataset.input_shape, dataset.num_classes, constant)
    model.compile(optimizer=make_optimizer(constant, 1), loss=recipe.LOSS)  # the recipe's loss, without metrics
    sweep = LearningRateSweep(start, end, steps, EXPLODE, report)
    model.fit(
        training_batches(dataset.train, config.batch_size, config.seed), epochs=1, steps_per_epoch=steps,
        callbacks=[sweep], verbose=0, shuffle=False,
    )  # fmt: skip
    smoothed = smooth(sweep.losses)
    return FinderResult(sweep.rates, sweep.losses, smoothed, suggest(sweep.rates, smoothed), sweep.exploded)
