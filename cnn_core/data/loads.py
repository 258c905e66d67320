"""Shared, cancellable loads: one load per key for the whole process, stopped when nobody waits for it.

`SharedLoads.get(key, load)` runs `load` in its own thread; callers asking for the same key while
it runs wait for that one result instead of starting a second load. Each caller waits in short
ticks and may give up (its `on_wait` raises: the page was closed or rerun). When no caller has
waited for `GRACE` seconds, the loader's next `checkpoint()` raises `LoadCancelled`, so the
memory it was filling is let go. Loaders call `checkpoint()` between batches of images; outside
a shared load it does nothing (the CLI).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from cnn_core.progress import Progress, Report

GRACE = 2.0  # seconds a load outlives its last caller: a rerun asking again picks it up
TICK = 0.2  # how often a waiting caller is given the latest progress (and a chance to leave)

_local = threading.local()


class LoadCancelled(Exception):
    """Raised inside a loader whose callers have all gone."""


def checkpoint() -> None:
    """Stop here if the shared load running in this thread has nobody left to wait for it."""
    flight = getattr(_local, "flight", None)
    if flight is not None and flight.abandon_if_unwanted():
        raise LoadCancelled(f"nobody waits for {flight.key!r} any more")


class _Flight:
    """One running load: who waits, its latest progress, and its outcome."""

    def __init__(self, key: Hashable, grace: float):
        self.key, self.grace = key, grace
        self.lock = threading.Lock()
        self.waiters, self.left_at, self.cancelled = 0, time.monotonic(), False
        self.done = threading.Event()
        self.latest: Progress | None = None
        self.result: Any = None
        self.error: BaseException | None = None

    def join(self) -> bool:
        with self.lock:
            if self.cancelled:
                return False
            self.waiters += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.waiters -= 1
            self.left_at = time.monotonic()

    def abandon_if_unwanted(self) -> bool:
        with self.lock:
            if self.waiters == 0 and time.monotonic() - self.left_at >= self.grace:
                self.cancelled = True
            return self.cancelled


class SharedLoads:
    """The registry of loads in flight, keyed by what they load (e.g. a DataConfig as JSON)."""

    def __init__(self, grace: float = GRACE, tick: float = TICK):
        self.grace, self.tick = grace, tick
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def running(self) -> list[Hashable]:
        """The keys being loaded now."""
        with self._lock:
            return [k for k, f in self._flights.items() if not f.cancelled]

    def get(self, key: Hashable, load: Callable[[Report], Any], on_wait: Callable[[Progress | None], None] | None = None) -> Any:
        """`load(report)`'s result, shared with every caller of the same key while it runs.

        Args:
            key: what is loaded; equal keys share one load.
            load: the work, given a progress report to call; it calls `checkpoint()` between batches.
            on_wait: called in the caller's thread every tick with the latest progress; if it raises,
                this caller stops waiting (the load goes on for the others, or stops if none is left).
        """
        flight = self._join(key, load)
        try:
            while not flight.done.wait(self.tick):
                if on_wait is not None:
                    on_wait(flight.latest)
        finally:
            flight.leave()
        if flight.error is not None:
            raise flight.error
        return flight.result

    def _join(self, key: Hashable, load: Callable[[Report], Any]) -> _Flight:
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and flight.join():
                return flight
            flight = self._flights[key] = _Flight(key, self.grace)
            flight.join()
        threading.Thread(target=self._run, args=(flight, load), name=f"load {key!r}"[:60], daemon=True).start()
        return flight

    def _run(self, flight: _Flight, load: Callable[[Report], Any]) -> None:
        _local.flight = flight

        def report(progress: Progress) -> None:
            flight.latest = progress
            checkpoint()

        try:
            flight.result = load(report)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller, whatever it is
            flight.error = exc.with_traceback(None)  # the loader's frames (and the arrays they hold) go now
        finally:
            _local.flight = None
            with self._lock:
                if self._flights.get(flight.key) is flight:
                    del self._flights[flight.key]
            flight.done.set()
