"""Why the live chart costs the same at 1,000 batches or at 200,000: each metric is folded into a
fixed number of buckets as points arrive, and a chart draws the buckets, not the points."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BUCKETS = 400  # a snapshot holds between 400 and 800 buckets per metric


@dataclass
class Series:
    """One metric's curve, decimated: per bucket its last x, its range and the smoothed value."""

    x: np.ndarray
    low: np.ndarray
    high: np.ndarray
    smooth: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


class Decimator:
    """Folds a growing series into at most `2 * buckets` buckets in O(1) per point.

    Each bucket covers `width` consecutive points; when there are too many buckets, neighbours
    are merged in pairs and the width doubles. The minimum and maximum keep spikes visible, and
    an exponential moving average (TensorBoard's, with its bias correction) gives the trend.
    """

    def __init__(self, buckets: int = BUCKETS, weight: float = 0.9):
        self.buckets, self.weight, self.width = buckets, weight, 1
        self._x, self._low, self._high, self._smooth, self._count = [], [], [], [], []
        self._ema, self._n = 0.0, 0

    def add(self, x: float, y: float | None) -> None:
        finite = y is not None and math.isfinite(y)
        if finite:
            self._n += 1
            self._ema = self._ema * self.weight + (1 - self.weight) * y
        smooth = self._ema / (1 - self.weight**self._n) if self._n else math.nan
        low = high = y if finite else math.nan
        if self._count and self._count[-1] < self.width:
            self._x[-1], self._smooth[-1] = x, smooth
            self._low[-1] = _nan_min(self._low[-1], low)
            self._high[-1] = _nan_max(self._high[-1], high)
            self._count[-1] += 1
        else:
            for column, value in zip((self._x, self._low, self._high, self._smooth, self._count), (x, low, high, smooth, 1)):
                column.append(value)
        if len(self._count) > 2 * self.buckets:
            self._halve()

    def _halve(self) -> None:
        pairs = len(self._count) // 2 * 2
        merged = [
            (self._x[i + 1], _nan_min(self._low[i], self._low[i + 1]), _nan_max(self._high[i], self._high[i + 1]),
             self._smooth[i + 1], self._count[i] + self._count[i + 1])
            for i in range(0, pairs, 2)
        ]  # fmt: skip
        rest = list(zip(self._x, self._low, self._high, self._smooth, self._count))[pairs:]
        self._x, self._low, self._high, self._smooth, self._count = (list(c) for c in zip(*(merged + rest)))
        self.width *= 2

    def series(self) -> Series:
        return Series(*(np.asarray(c, np.float32) for c in (self._x, self._low, self._high, self._smooth)))


def _nan_min(a: float, b: float) -> float:
    return b if math.isnan(a) else a if math.isnan(b) else min(a, b)


def _nan_max(a: float, b: float) -> float:
    return b if math.isnan(a) else a if math.isnan(b) else max(a, b)


def decimate(points: list[dict], key: str, buckets: int = BUCKETS) -> Series:
    """A decimated series of any list of batch points (a zoomed range, a saved run)."""
    folded = Decimator(buckets)
    for p in points:
        folded.add(p["x"], p.get(key))
    return folded.series()
