"""The server's sweeps: each one driven by a server-owned thread, kept across page reruns by sweep id.

A sweep is controlled as a run is: by the session that started it (and the teacher in classroom
mode); every other session may only watch it. In personal mode a session has one thing training at
a time, a run or a sweep; in classroom mode each trial counts against the learner's class limits
as a run does (see access/quotas.py), and a learner runs one sweep at a time.
"""

from __future__ import annotations

import threading

from cnn_core.access import classroom
from cnn_core.access.classroom import owner_tag
from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore
from cnn_core.sweeps import definition as sweeps
from cnn_core.sweeps.definition import Sweep, SweepDefinition
from cnn_core.sweeps.driver import SweepDriver


class SweepService:
    """Sweep drivers by sweep id, and who may start, pause, stop or resume them."""

    def __init__(self, registry=None):
        self.registry = registry
        self.drivers: dict[str, SweepDriver] = {}
        self._lock = threading.Lock()

    def _jobs(self):
        from cnn_core.jobs.registry import JOBS

        return self.registry or JOBS

    def start(self, definition: SweepDefinition, owner: str, dataset, store: RunStore | None = None) -> SweepDriver:
        """Make a new sweep for `owner` and start driving it; `dataset` is its loaded data."""
        store = store or RunStore()
        definition.check()
        if dataset.config != definition.data:
            raise StudioError("the dataset given is not the one this sweep is defined on")
        with self._lock:
            self._check_free(owner)
            return self._launch(sweeps.create(store, definition, owner_tag(owner)), owner, dataset, store)

    def resume(self, sweep_id: str, owner: str, dataset, store: RunStore | None = None) -> SweepDriver:
        """Continue a paused, interrupted or stopped sweep of `owner` where it was left. Only the
        session that started it resumes it (a teacher may pause or stop a learner's sweep, not
        train it as themselves)."""
        store = store or RunStore()
        sweep = sweeps.load(store, sweep_id)
        self._check_control(sweep, owner, "resume")
        if owner_tag(owner) != sweep.owner:  # its trials are the owner's runs, under the owner's class limits
            raise StudioError(f"sweep {sweep.sweep_id} trains as the session that started it: only that session can resume it")
        with self._lock:
            driver = self.drivers.get(sweep.sweep_id)
            if driver is not None and driver.active:
                return driver
            if sweep.status().get("status") == "running":
                raise StudioError(f"sweep {sweep.sweep_id} is still running in another process")
            if dataset.config != sweep.definition.data:
                raise StudioError("the dataset given is not the one this sweep was defined on")
            self._check_free(owner)
            return self._launch(sweep, owner, dataset, store)

    def pause(self, sweep_id: str, owner: str) -> None:
        """Pause every trial after its current batch; the sweep resumes from there."""
        self._driver(sweep_id, owner, "pause").pause()

    def stop(self, sweep_id: str, owner: str) -> None:
        """Stop every trial after its current batch (each keeps what it learned); no trial starts after."""
        self._driver(sweep_id, owner, "stop").stop()

    def get(self, sweep_id: str) -> SweepDriver | None:
        return self.drivers.get(sweep_id)

    def active_for(self, owner: str) -> list[SweepDriver]:
        return [d for d in list(self.drivers.values()) if d.owner == owner and d.active]

    def _driver(self, sweep_id: str, owner: str, action: str) -> SweepDriver:
        driver = self.drivers.get(sweep_id)
        if driver is None or not driver.active:
            raise StudioError(f"sweep {sweep_id} is not running here")
        self._check_control(driver.sweep, owner, action)
        return driver

    def _check_control(self, sweep: Sweep, owner: str, action: str) -> None:
        if not sweep.controlled_by(owner):
            whose = "the command line" if sweep.owner == "cli" else "another session"
            raise StudioError(f"sweep {sweep.sweep_id} belongs to {whose}: only its owner can {action} it")

    def _check_free(self, owner: str) -> None:
        """Personal mode: one thing training per session. Classroom mode: one sweep per learner."""
        busy = self.active_for(owner)
        if busy:
            raise StudioError(f"sweep {busy[0].sweep.sweep_id} is still running: pause or stop it before starting another")
        jobs = self._jobs().active_for(owner)
        if jobs and not classroom.enabled():
            raise StudioError(f"run {jobs[0].run_id} is still {jobs[0].status}: stop it or wait before starting a sweep")

    def _launch(self, sweep: Sweep, owner: str, dataset, store: RunStore) -> SweepDriver:
        driver = SweepDriver(sweep, owner, dataset, store, self._jobs())
        self.drivers[sweep.sweep_id] = driver
        driver.status = "running"  # active at once: a second press finds it
        driver.thread.start()
        return driver


SWEEPS = SweepService()
