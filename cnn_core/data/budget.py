"""Memory budgets: what a dataset load may take, estimated from its `DataConfig` before anything is read.

The budget is `CNN_STUDIO_MEMORY_BUDGET_MB`, or a quarter of the machine's memory. A load whose
estimated peak is over it is refused with both figures; loads running at the same time share it
(`reserve`). Folder and zip datasets are not refused: over the budget they are read from disk as
needed (`ingest`). The estimate counts the images a load keeps at their final size and the
copies it makes on the way (`COPIES`), plus the arrays read before resizing.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cnn_core.data.versions import split_id
from cnn_core.errors import StudioError
from cnn_core.settings.config import DataConfig

MEMORY_ENV = "CNN_STUDIO_MEMORY_BUDGET_MB"
MACHINE_SHARE = 0.25  # of MemTotal, when the environment does not say
COPIES = 2  # the full array and the split copies taken from it live at once (measured: tests/core/test_budget.py)
OVERHEAD_BYTES = 16 * 2**20  # decoders' and drawing buffers, index arrays: a load's cost beyond its pixels

# id: (images, side, channels, official test images) as the loaders read them, before any resizing.
KNOWN_SIZES = {
    "mnist-5k": (5000, 28, 1, 0),
    "digits": (1797, 8, 1, 0),
    "mnist": (70_000, 28, 1, 10_000),
    "fashion-mnist": (70_000, 28, 1, 10_000),
    "cifar10": (60_000, 32, 3, 10_000),
}
SHAPES_DEFAULTS = (2000, 32, 3)


def machine_memory_bytes() -> int:
    """MemTotal from /proc/meminfo (or the page count where there is no /proc)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_budget_bytes() -> int:
    """The most one dataset load (and all loads at once) may take: the environment's MB, else 25 % of memory."""
    raw = os.environ.get(MEMORY_ENV, "").strip()
    if raw:
        try:
            return max(1, int(float(raw) * 2**20))
        except ValueError:
            raise StudioError(f"{MEMORY_ENV}={raw!r} is not a number of megabytes") from None
    return int(machine_memory_bytes() * MACHINE_SHARE)


def size_text(nbytes: float) -> str:
    """Bytes in words: '786 MB', '1.6 TB'."""
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{int(nbytes)} bytes"


@dataclass(frozen=True)
class Estimate:
    """What a load keeps (`images` of `shape`) and what it reads first (`source_bytes`)."""

    images: int
    shape: tuple[int, int, int]
    source_bytes: int = 0

    @property
    def final_bytes(self) -> int:
        h, w, c = self.shape
        return self.images * h * w * c

    @property
    def peak_bytes(self) -> int:
        return COPIES * self.final_bytes + self.source_bytes + OVERHEAD_BYTES


def estimate(config: DataConfig) -> Estimate | None:
    """The load's size from the config alone; None for folders and zips (they stream when too large).

    A version is estimated as its base: its edits only drop or relabel images of the base.
    """
    dataset_id, _ = split_id(config.dataset_id)
    if dataset_id == "shapes":
        count, side, channels = SHAPES_DEFAULTS
        return Estimate(config.limit or count, (config.image_size or side,) * 2 + (channels,))
    if dataset_id not in KNOWN_SIZES:
        return None
    total, side, channels, official_test = KNOWN_SIZES[dataset_id]
    kept = total
    if config.limit:
        train = total - official_test
        kept = min(config.limit, train) + (min(max(1, config.limit // 5), official_test) if official_test else 0)
    final_side = config.image_size or side
    return Estimate(kept, (final_side, final_side, channels), source_bytes=total * side * side * channels)


def check(config: DataConfig) -> Estimate | None:
    """The estimate, or a `StudioError` naming it and the budget when it is over."""
    found, budget = estimate(config), memory_budget_bytes()
    if found is not None and found.peak_bytes > budget:
        h, w, c = found.shape
        raise StudioError(
            f"{config.dataset_id}: {found.images:,} images of {h}×{w}×{c} would take about {size_text(found.peak_bytes)} "
            f"of memory to load ({size_text(found.final_bytes)} of pixels); the limit is {size_text(budget)} "
            f"({MEMORY_ENV}): lower the image size or the image limit"
        )
    return found


_lock = threading.Lock()
_reserved = 0


@contextmanager
def reserve(nbytes: int, what: str):
    """Hold `nbytes` of the budget while a load runs; refuse when loads already running leave too little."""
    global _reserved
    budget = memory_budget_bytes()
    with _lock:
        if _reserved and _reserved + nbytes > budget:
            raise StudioError(
                f"the server is already loading {size_text(_reserved)} of data; {what} ({size_text(nbytes)}) would pass "
                f"the limit of {size_text(budget)} ({MEMORY_ENV}): try again when those loads finish"
            )
        _reserved += nbytes
    try:
        yield
    finally:
        with _lock:
            _reserved -= nbytes
