"""Background training jobs and the process-level registry that keeps them across page reruns."""

from __future__ import annotations

import logging
import threading

from cnn_core.config import ArchChoice, TrainConfig
from cnn_core.datasets import Dataset
from cnn_core.errors import StudioError
from cnn_core.runs import RunStore, owner_tag
from cnn_core.training import TrainResult, default_max_jobs, new_record, prepare_tensorflow, run_config, run_training

ACTIVE = ("queued", "running")
log = logging.getLogger("cnn_studio.jobs")


class TrainingJob:
    """One training run in a server-owned thread. `stop()` asks it to end after the current batch."""

    def __init__(
        self, registry: JobRegistry, dataset: Dataset, arch: ArchChoice, config: TrainConfig, owner: str, store: RunStore
    ):
        self.registry, self.dataset, self.arch, self.config, self.owner, self.store = (
            registry,
            dataset,
            arch,
            config,
            owner,
            store,
        )
        self.run_dir = store.new_run(run_config(dataset, arch, config, owner_tag(owner)), arch.preset)
        self.run_id = self.run_dir.name
        self.record = new_record(dataset, config)
        self.stop_event = threading.Event()
        self.result: TrainResult | None = None
        self.thread = threading.Thread(target=self._run, name=f"train-{self.run_id}", daemon=True)

    @property
    def status(self) -> str:
        return self.record.snapshot().status

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def controlled_by(self, owner: str) -> bool:
        """True for the session that started this job; any other only watches it."""
        return bool(owner) and owner == self.owner

    def stop(self, owner: str) -> None:
        """Ask the job to end after the current batch; refused for anyone but its owner."""
        if not self.controlled_by(owner):
            raise StudioError(f"run {self.run_id} was started in another browser session: only that session can stop it")
        self.stop_event.set()

    def _run(self) -> None:
        with self.registry.slots:
            if self.stop_event.is_set():  # stopped while waiting in the queue: nothing was trained
                self.record.set_status("stopped", "stopped before training started")
                self.store.set_status(self.run_dir, "stopped", "stopped before training started")
                return
            try:
                self.result = run_training(
                    self.dataset, self.arch, self.config, self.run_dir, self.store, self.record, self.stop_event
                )
            except StudioError as exc:
                self._fail(str(exc))
            except Exception as exc:  # noqa: BLE001 - any failure is recorded in the run; the app stays up
                log.exception("training run %s failed", self.run_id)
                self._fail(f"{type(exc).__name__}: {exc}")

    def _fail(self, message: str) -> None:
        self.record.set_status("failed", message)
        self.store.set_status(self.run_dir, "failed", message)


class JobRegistry:
    """Jobs by run id. At most `max_running` train at once; one active job per owner (browser session)."""

    def __init__(self, max_running: int | None = None):
        self.max_running = max_running or default_max_jobs()
        self.slots = threading.BoundedSemaphore(self.max_running)
        self.jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def submit(
        self, dataset: Dataset, arch: ArchChoice, config: TrainConfig, owner: str, store: RunStore | None = None
    ) -> TrainingJob:
        config.check()
        arch.spec()  # refuse an invalid custom stack before creating a run
        prepare_tensorflow()
        with self._lock:
            busy = [j for j in self.jobs.values() if j.owner == owner and j.active]
            if busy:
                raise StudioError(f"run {busy[0].run_id} is still {busy[0].status}: stop it or wait before starting another")
            job = TrainingJob(self, dataset, arch, config, owner, store or RunStore())
            self.jobs[job.run_id] = job
        job.thread.start()
        return job

    def get(self, run_id: str) -> TrainingJob | None:
        return self.jobs.get(run_id)

    def queue_position(self, job: TrainingJob) -> int:
        """1 for the next job to start, 0 when it is not waiting."""
        if job.status != "queued":
            return 0
        waiting = [j for j in self.jobs.values() if j.status == "queued"]
        return waiting.index(job) + 1 if job in waiting else 0


JOBS = JobRegistry()
