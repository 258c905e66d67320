"""The arithmetic of CNN layers, in one place: output sizes, padding and parameter counts.

The Model page's summary (summary.py) and the Learn page's explainer (convolution.py) both use
these functions, so the numbers and the formulas they print can never disagree. Each count comes
with its formula twice: compact for a table cell, spelled out for a learner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SPATIAL_LAYERS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")  # layers that slide a window over the image


@dataclass(frozen=True)
class Count:
    """A parameter count and how it is computed."""

    value: int
    compact: str  # "32×(3×3×1)+32 = 320"
    spelled: str  # "filters × (k × k × input channels) + biases = 32 × (3 × 3 × 1) + 32 = 320"


def output_size(n: int, k: int, stride: int, padding: str) -> int:
    """Keras' output length: ceil(n / s) with 'same' padding, floor((n - k) / s) + 1 with 'valid'."""
    return math.ceil(n / stride) if padding == "same" else (n - k) // stride + 1


def output_size_formula(n: int, k: int, stride: int, padding: str) -> str:
    """The output-size formula with the numbers filled in."""
    out = output_size(n, k, stride, padding)
    if padding == "same":
        return f"⌈n / s⌉ = ⌈{n} / {stride}⌉ = {out}"
    return f"⌊(n − k) / s⌋ + 1 = ⌊({n} − {k}) / {stride}⌋ + 1 = {out}"


def same_padding(n: int, k: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros Keras adds for 'same' padding: the odd one goes after."""
    total = max((math.ceil(n / stride) - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def conv_params(k: int, c_in: int, filters: int) -> Count:
    """A k×k convolution: one weight per kernel cell and input channel, per filter, plus a bias each."""
    total = filters * (k * k * c_in) + filters
    return Count(
        total,
        f"{filters}×({k}×{k}×{c_in})+{filters} = {total:,}",
        f"filters × (k × k × input channels) + biases = {filters} × ({k} × {k} × {c_in}) + {filters} = {total:,}",
    )


def dense_params(inputs: int, units: int) -> Count:
    """A dense layer: one weight per input and unit, plus a bias per unit."""
    total = inputs * units + units
    return Count(
        total, f"{units}×{inputs}+{units} = {total:,}", f"inputs × units + biases = {inputs:,} × {units} + {units} = {total:,}"
    )


def batchnorm_params(channels: int) -> Count:
    """Batch normalisation: a scale, an offset, a moving mean and a moving variance per channel."""
    total = 4 * channels
    return Count(
        total,
        f"4×{channels} = {total:,} ({2 * channels:,} non-trainable: moving mean and variance)",
        f"4 × channels (scale, offset, moving mean, moving variance) = 4 × {channels} = {total:,}",
    )
