"""The process-level job registry: it keeps training jobs across page reruns and gives them turns.

At most `max_running` jobs train on this machine at once and the rest wait in a queue, first come
first served; in classroom mode a learner's jobs also wait while the learner has as many training
as the class allows, on either backend (a Ray job takes no slot here, but waits for its owner's
turn like any other). A second Train press with the same settings, while the first run is queued
or training, gets that run back, not a second one. Personal mode keeps one active job per browser
session; classroom mode applies the class limits instead (see access/quotas.py). The jobs
themselves are in local.py (this machine) and remote.py (the Ray backend).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cnn_core.access import classroom, quotas
from cnn_core.data.datasets import Dataset
from cnn_core.errors import StudioError
from cnn_core.jobs import cluster
from cnn_core.jobs.local import ACTIVE, ResumePlan, TrainingJob, TrainRequest, plan_resume
from cnn_core.jobs.remote import RemoteJob
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, TrainConfig
from cnn_core.training.build import prepare_tensorflow
from cnn_core.training.fit import Start, default_max_jobs
from cnn_core.training.transfer import Parent

__all__ = ["ACTIVE", "JOBS", "JobRegistry", "RemoteJob", "ResumePlan", "TrainRequest", "TrainingJob", "plan_resume"]
UNLIMITED = 1 << 30


@dataclass(eq=False)
class Turn:
    """One waiter for a turn to train, or its holder: whose it is, how many its owner may hold at
    once, and whether it takes one of this machine's slots (a Ray job does not)."""

    holder: object
    owner: str
    cap: int
    local: bool = True


class JobRegistry:
    """Jobs by run id, and the turns to train they take one after another."""

    def __init__(self, max_running: int | None = None):
        self.max_running = max_running or default_max_jobs()
        self.jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()
        self._turn = threading.Condition()
        self._waiting: list[Turn] = []  # by arrival; a job waits from the moment it is submitted
        self._holding: list[Turn] = []

    def submit(
        self,
        dataset: Dataset,
        arch: ArchChoice,
        config: TrainConfig,
        owner: str,
        store: RunStore | None = None,
        parent: Parent | None = None,
        alongside: bool = False,
    ) -> TrainingJob:
        """Start a new run (a fine-tuning one when `parent` is given) for `owner`.

        The same request again while the owner's job for it is active returns that job. A sweep's
        trials come `alongside` the owner's other jobs: neither refused by them nor answered by them.
        """
        config.check()
        arch.spec()  # refuse an invalid custom stack before creating a run
        return self._start(TrainRequest(dataset, arch, config, owner, start=Start(parent=parent)), store, alongside)

    def resume(
        self, run: str | Path, owner: str, dataset: Dataset, more_epochs: int = 0, store: RunStore | None = None,
        alongside: bool = False,
    ):  # fmt: skip
        """Continue a saved run of `owner` (see `plan_resume`); `dataset` is the run's own data.

        A second press while the owner's run is already queued or training again returns that job.
        """
        store = store or RunStore()
        with self._lock:
            job = self.jobs.get(Path(run).name)
            if job is not None and job.active and job.owner == owner:
                return job
            if job is not None and job.active:
                raise StudioError(f"run {job.run_id} is still {job.status}: it cannot be resumed until it stops or pauses")
        plan = plan_resume(store, run, owner, more_epochs)
        if dataset.config != plan.data:
            raise StudioError("the dataset given is not the one this run was trained on")
        with self._lock:  # check the class limits before the run's settings change
            quotas.check(owner, self.load(owner, local=not cluster.address()), store, new_run=False)
        plan.save_settings()
        return self._start(TrainRequest(dataset, plan.arch, plan.config, owner, plan.run_dir, plan.start), store, alongside)

    def _start(self, request: TrainRequest, store: RunStore | None, alongside: bool = False) -> TrainingJob:
        kind = TrainingJob
        if cluster.address():  # the cluster must answer, and offer what a job asks, before a run is created for it
            cluster.job_resources()
            kind = RemoteJob
        prepare_tensorflow()
        store = store or RunStore()
        with self._lock:
            busy = self.active_for(request.owner)
            same = [j for j in busy if j.key == request.key()] if not alongside else []
            if same:  # pressed twice: the run already on its way is the answer
                return same[0]
            if busy and not classroom.enabled() and not alongside:
                raise StudioError(f"run {busy[0].run_id} is still {busy[0].status}: stop it or wait before starting another")
            load = self.load(request.owner, local=kind.local_slot)
            request.time_limit = quotas.check(request.owner, load, store, new_run=request.run_dir is None)
            job = kind(self, request, store)
            self.jobs[job.run_id] = job
            with self._turn:  # in line now: the next submit's limits count it, before its thread starts
                self._waiting.append(self._turn_for(job))
        try:
            job.thread.start()
        except RuntimeError as exc:  # no thread to be had: out of the line again, or it would hold a place for ever
            with self._turn:
                self._waiting = [t for t in self._waiting if t.holder is not job]
                self._turn.notify_all()
            job._fail(f"the server could not start a thread for this run ({exc})")
            raise StudioError(f"the server could not start this run ({exc}): try again in a moment") from None
        return job

    def active_for(self, owner: str) -> list[TrainingJob]:
        """The owner's queued and training jobs, oldest first."""
        return [j for j in list(self.jobs.values()) if j.owner == owner and j.active]

    def get(self, run_id: str) -> TrainingJob | None:
        return self.jobs.get(run_id)

    def queue_position(self, job: TrainingJob) -> int:
        """1 for the next job to start, 0 when it is not waiting."""
        if job.status != "queued":
            return 0
        waiting = [j for j in list(self.jobs.values()) if j.status == "queued"]
        return waiting.index(job) + 1 if job in waiting else 0

    def load(self, owner: str, local: bool = True) -> quotas.Load:
        """The owner's runs whose turn has come, those still waiting, and whether one more would wait.

        A run whose turn has come counts as training while it builds its model too (and, on the Ray
        backend, while the cluster finds it a worker): it no longer waits for the owner's limits.
        """
        extra = self._turn_for(object(), owner, local)
        jobs = self.active_for(owner)
        with self._turn:
            admitted = self._admitted(extra)
            turns = {id(t.holder) for t in [*self._holding, *admitted]}
            others = sum(t.owner == owner for t in self._holding if t.holder not in jobs)  # fold trainings, LR finder
        training = sum(id(j) in turns for j in jobs)
        return quotas.Load(training + others, len(jobs) - training, waits=extra not in admitted)

    def has_turn(self, job: TrainingJob) -> bool:
        """Whether `job`'s turn to train has come (a Ray job may still wait for a worker then)."""
        with self._turn:
            return any(t.holder is job for t in self._holding)

    def acquire(self, holder: object, cancelled=lambda: False, owner: str | None = None) -> bool:
        """Wait for a turn to train for `holder` (a job, or the learning-rate finder); False if cancelled first.

        A waiter may start when it needs no slot here or one is free, and its owner trains fewer
        runs than the class allows. Waiters start in order, but a later one that may start passes
        one that may not (another learner's run passes one whose owner is at their limit; a Ray job
        passes a local one waiting for a slot).
        """
        with self._turn:
            entry = next((t for t in self._waiting if t.holder is holder), None)  # in line since its submit
            if entry is None:
                entry = self._turn_for(holder, owner)
                self._waiting.append(entry)
            try:
                while not cancelled():
                    if entry in self._admitted():
                        self._holding.append(entry)
                        return True
                    self._turn.wait(0.25)  # also wakes to notice a cancel
                return False
            finally:
                self._waiting.remove(entry)
                self._turn.notify_all()

    def _turn_for(self, holder: object, owner: str | None = None, local: bool | None = None) -> Turn:
        owner = getattr(holder, "owner", "") if owner is None else owner
        caps = quotas.limited(owner)
        local = getattr(holder, "local_slot", True) if local is None else local
        return Turn(holder, owner, caps.active_runs if caps else UNLIMITED, local)

    def _admitted(self, extra: Turn | None = None) -> list[Turn]:
        """The waiters (and `extra`, as if it came last) that may start now, in order; call under `_turn`."""
        holding, admitted = list(self._holding), []
        for entry in [*self._waiting, *([extra] if extra else [])]:
            if entry.local and sum(h.local for h in holding) >= self.max_running:
                continue
            if sum(h.owner == entry.owner for h in holding) >= entry.cap:
                continue
            holding.append(entry)
            admitted.append(entry)
        return admitted

    def release(self, holder: object) -> None:
        """Give back `holder`'s turn (and its slot) to the next waiter."""
        with self._turn:
            self._holding = [h for h in self._holding if h.holder is not holder]
            self._turn.notify_all()

    def wake(self) -> None:
        """Let waiters look again (a job was cancelled or paused in the queue)."""
        with self._turn:
            self._turn.notify_all()

    @contextmanager
    def slot(self):
        """Hold a training slot while something else trains (the learning-rate finder; no learner's cap)."""
        ticket = object()
        self.acquire(ticket, owner="")
        try:
            yield
        finally:
            self.release(ticket)


JOBS = JobRegistry()
