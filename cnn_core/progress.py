"""Progress of a long step (reading a folder, evaluating a test split): a count, a rate and an ETA.

A step creates `Progress(total, what, report)` and calls `advance(n)`; `report`, when given, gets
the `Progress` at most every `every` seconds and once at the end. The app draws it as a progress
bar, the CLI as one line on a terminal's stderr (`to_stderr`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Report = Callable[["Progress"], None]


@dataclass
class Progress:
    total: int
    what: str = "items"
    report: Report | None = None
    every: float = 0.25
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _reported: float = float("-inf")

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.report is not None and (self.finished or now - self._reported >= self.every):
            self._reported = now
            self.report(self)

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0

    @property
    def seconds_left(self) -> float | None:
        """Estimated from the rate so far; None until there is a rate to go by."""
        elapsed = time.monotonic() - self.started
        if self.done <= 0 or elapsed <= 0:
            return None
        return (self.total - self.done) * elapsed / self.done

    @property
    def text(self) -> str:
        """E.g. '12,000 of 60,000 images read · about 8 s left'."""
        line = f"{self.done:,} of {self.total:,} {self.what}"
        left = self.seconds_left
        if self.finished:
            return f"{line} in {time.monotonic() - self.started:.1f} s"
        if left is not None:
            line += f" · about {left:.0f} s left" if left < 120 else f" · about {left / 60:.0f} min left"
        return line


def to_stderr(progress: Progress) -> None:
    """The CLI's report: one line on a terminal, rewritten in place. Not when stderr is a file or a
    pipe, where a user error must stay the only line (scripts read it)."""
    if sys.stderr.isatty():
        print(f"\r{progress.text}\033[K", end="\n" if progress.finished else "", file=sys.stderr, flush=True)
