"""Background training jobs and the process-level registry that keeps them across page reruns.

A job is controlled only by its owner (the browser session that started it): stop, pause and
resume check the owner; everyone else may watch. At most `max_running` jobs train at once and
the rest wait in a queue. A finished job lets go of its dataset, so a long-running server does
not keep every dataset it ever trained on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from cnn_core import classroom, cluster
from cnn_core.config import ArchChoice, DataConfig, TrainConfig, train_config_of
from cnn_core.datasets import Dataset
from cnn_core.diagnosis import RECENT, Finding, context_of, diagnose
from cnn_core.errors import StudioError
from cnn_core.live import FINAL, Control, Snapshot
from cnn_core.runs import RunStore, owner_tag, read_json, update_config, write_json
from cnn_core.training import (
    Start,
    TrainResult,
    default_max_jobs,
    new_record,
    prepare_tensorflow,
    run_config,
    run_training,
)
from cnn_core.transfer import Parent

ACTIVE = ("queued", "running")
log = logging.getLogger("cnn_studio.jobs")


@dataclass
class TrainRequest:
    """What a job trains, for whom, and where it starts (a new run when `run_dir` is None)."""

    dataset: Dataset | None
    arch: ArchChoice
    config: TrainConfig
    owner: str
    run_dir: Path | None = None
    start: Start = field(default_factory=Start)


@dataclass
class ResumePlan:
    """How to continue a saved run: its settings (with any extra epochs) and its resume point."""

    run_dir: Path
    data: DataConfig
    arch: ArchChoice
    config: TrainConfig
    start: Start

    def save_settings(self) -> None:
        """Write the continued run's settings (its new total of epochs) into its config.json."""
        update_config(self.run_dir, train={**read_json(self.run_dir / "config.json").get("train", {}), **self.config.to_dict()})


def plan_resume(store: RunStore, run: str | Path, owner: str, more_epochs: int = 0) -> ResumePlan:
    """Check that `owner` may continue this run and find where it continues from.

    A paused, interrupted or failed run continues from its last checkpoint (a failed one perhaps
    to fail again, if it diverged); a completed or stopped one trains `more_epochs` more. `owner` "cli" is the command line, which may resume any run.
    Raises `StudioError` with the reason a run cannot be resumed; nothing is changed then.
    """
    from cnn_core import checkpoints

    run_dir = store.resolve(run)
    info = store.info(run_dir)
    if info.status in ACTIVE:
        raise StudioError(f"run {info.run_id} is still {info.status}: it cannot be resumed until it stops or pauses")
    if owner != "cli" and not info.controlled_by(owner):
        raise StudioError(f"run {info.run_id} belongs to another session (or the command line): only its owner can resume it")
    if info.status == "damaged":
        raise StudioError(f"run {info.run_id} is damaged: {info.message}")
    if info.status in ("completed", "stopped") and more_epochs < 1:
        raise StudioError(f"run {info.run_id} is {info.status}: say how many more epochs to train")
    config_json = read_json(run_dir / "config.json")
    config = train_config_of(config_json)
    point = checkpoints.resume_point(run_dir)
    if point.epoch >= config.epochs + more_epochs:
        raise StudioError(f"run {info.run_id} has trained all {config.epochs} epochs: say how many more to train")
    config = replace(config, epochs=config.epochs + more_epochs)
    config.check()
    frozen = bool((config_json.get("parent") or {}).get("freeze"))
    arch = ArchChoice.from_dict(config_json.get("architecture", {}))
    return ResumePlan(
        run_dir, DataConfig.from_dict(config_json.get("data", {})), arch, config, Start(resume=point, freeze=frozen)
    )


class TrainingJob:
    """One training session in a server-owned thread; stop and pause act after the current batch."""

    backend = "this machine"

    def __init__(self, registry: JobRegistry, request: TrainRequest, store: RunStore):
        self.registry, self.request, self.store, self.owner = registry, request, store, request.owner
        if request.run_dir is None:
            config = run_config(request.dataset, request.arch, request.config, owner_tag(request.owner), request.start.parent)
            request.run_dir = store.new_run(config, request.arch.preset if not request.start.parent else "finetune")
        else:
            store.set_status(request.run_dir, "queued")
        self.run_dir = request.run_dir
        self.run_id = self.run_dir.name
        self.context = context_of(read_json(self.run_dir / "config.json"))
        self._findings: tuple = (None, [])
        self.record = new_record(request.dataset, request.config)
        self.control = Control()
        self.result: TrainResult | None = None
        self.thread = threading.Thread(target=self._run, name=f"train-{self.run_id}", daemon=True)

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def snapshot(self) -> Snapshot:
        return self.record.snapshot()

    @property
    def stop_requested(self) -> bool:
        return self.control.stop.is_set()

    @property
    def pause_requested(self) -> bool:
        return self.control.pause.is_set()

    def findings(self) -> list[Finding]:
        """The diagnosis of the curves so far (live: the rules see the latest batches and epochs).

        Recomputed when an epoch ends, every 100 batches, or when the status changes: the live view
        asks every two seconds, and the answer rarely changes in between.
        """
        count = self.record.snapshot().points
        key = (self.record.epochs_recorded, count // 100, self.record.status)
        if self._findings[0] != key:
            points = self.record.points_since(max(0, count - RECENT))
            self._findings = (key, diagnose(self.record.history(), points, replace(self.context, message=self.record.message)))
        return self._findings[1]

    def controlled_by(self, owner: str) -> bool:
        """True for the session that started this job (and the teacher in classroom mode); any other only watches it."""
        return (bool(owner) and owner == self.owner) or classroom.is_teacher(owner)

    def _check(self, owner: str, action: str) -> None:
        if not self.controlled_by(owner):
            raise StudioError(f"run {self.run_id} was started in another browser session: only that session can {action} it")

    def stop(self, owner: str) -> None:
        """End after the current batch, evaluate and save; refused for anyone but the owner."""
        self._check(owner, "stop")
        self.control.stop.set()

    def pause(self, owner: str) -> None:
        """Save a resume point after the current batch and free the training slot."""
        self._check(owner, "pause")
        self.control.pause.set()

    def wait(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        with self.registry.slots:
            if self.control.requested:  # stopped or paused in the queue: nothing trained in this session
                self._cancel()
                return
            try:
                r = self.request
                self.result = run_training(
                    r.dataset, r.arch, r.config, self.run_dir, self.store, self.record, self.control, start=r.start
                )
            except StudioError as exc:
                self._fail(str(exc))
            except Exception as exc:  # noqa: BLE001 - any failure is recorded in the run; the app stays up
                log.exception("training run %s failed", self.run_id)
                self._fail(f"{type(exc).__name__}: {exc}")
            finally:
                self.request = replace(self.request, dataset=None)  # let go of the images

    def _cancel(self) -> None:
        resumed = self.request.start.resume is not None
        status = "paused" if self.control.pause.is_set() or resumed else "stopped"
        message = "paused before this session started" if status == "paused" else "stopped before training started"
        self.record.set_status(status, message)
        self.store.set_status(self.run_dir, status, message)

    def _fail(self, message: str) -> None:
        self.record.set_status("failed", message)
        self.store.set_status(self.run_dir, "failed", message)


class RemoteJob(TrainingJob):
    """One training session run by a Ray actor on the cluster (see cluster.py); pages read its mirror.

    A server thread submits the actor, then polls it every second: new batch points go into this
    job's live record (so the live view and its contract are unchanged), and the files the worker
    wrote since (checkpoints, history, TensorBoard logs, the model) into this server's run folder,
    atomically. Stop and pause are the owner's, checked here, then forwarded to the actor. A worker
    or cluster that dies leaves the run interrupted, resumable from the last checkpoint it sent.
    """

    backend = "the Ray cluster"
    POLL_SECONDS = 1.0
    ANSWER_SECONDS = 120.0  # a poll unanswered this long means the cluster is gone

    def __init__(self, registry: JobRegistry, request: TrainRequest, store: RunStore):
        super().__init__(registry, request, store)
        self.worker: dict | None = None  # where the actor runs: host and pid
        self._known: dict[str, list[int]] = {}  # the worker's files already copied, by signature
        self._batches_fresh = True  # batches.csv is rewritten when this session's first points arrive
        self._parent: dict | None = None

    def _run(self) -> None:  # no local slot: the cluster queues jobs by the resources they ask for
        try:
            result = self._drive()
            if result is not None:  # the result first: a page that sees the final status finds it
                self.result = result
                self.record.set_status(result.status, result.message)
        except StudioError as exc:
            self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - the run records any failure; the app stays up
            log.exception("training run %s failed on the cluster", self.run_id)
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            self.request = replace(self.request, dataset=None)

    def _drive(self) -> TrainResult | None:
        ray = cluster.connect()
        from ray.exceptions import RayActorError, RayError

        actor = None
        try:
            actor = cluster.start_actor(self._payload(ray))
            ready = actor.where.remote()
            while not ray.wait([ready], timeout=0.5)[0]:  # queued until a worker has the CPUs free
                if self.control.requested:
                    self._cancel()
                    return None
            self.worker = ray.get(ready)
            done = actor.train.remote()
            forwarded: set[str] = set()
            while True:
                finished = bool(ray.wait([done], timeout=self.POLL_SECONDS)[0])
                for name in ("stop", "pause"):
                    if getattr(self.control, name).is_set() and name not in forwarded:
                        getattr(actor, name).remote()
                        forwarded.add(name)
                self._pull(ray, actor)
                if finished:
                    break
            outcome = ray.get(done)
            return self._result(outcome["status"], outcome["message"])
        except RayActorError as exc:
            where = f" (host {self.worker['host']}, process {self.worker['pid']})" if self.worker else ""
            cause = "it ran out of memory" if "memory" in str(exc).lower() else "its process or node died"
            self._interrupt(f"the Ray worker training this run stopped{where}: {cause}")
        except (RayError, ConnectionError, TimeoutError) as exc:
            self._interrupt(f"the Ray cluster stopped answering ({type(exc).__name__})")
        finally:
            if actor is not None:
                self._release(ray, actor)
        return None

    def _payload(self, ray) -> dict:
        """What the actor needs: the run folder, the data (by config or through the object store), settings, start."""
        r = self.request
        data = r.dataset.config.to_dict() if cluster.ships_by_config(r.dataset) else ray.put(cluster.in_memory(r.dataset))
        parent_files = {}
        if r.start.parent is not None:
            path = r.start.parent.path
            if (path / "model.keras").is_file():
                parent_files = {"model.keras": (path / "model.keras").read_bytes()}
            else:
                from cnn_core import checkpoints

                last = checkpoints.list_checkpoints(path)[-1].name
                names = ["config.json", f"checkpoints/{last}.npz", f"checkpoints/{last}.json"]
                parent_files = {name: (path / name).read_bytes() for name in names}
        return {
            "run_id": self.run_id, "files": cluster.run_files(self.run_dir), "data": data, "arch": r.arch.to_dict(),
            "train": r.config.to_dict(), "start": r.start, "parent_files": parent_files,
        }  # fmt: skip

    def _pull(self, ray, actor) -> None:
        """Take what changed on the worker: points into the live record and batches.csv, files into the run folder."""
        update = ray.get(actor.poll.remote(self.record.snapshot().points, self._known), timeout=self.ANSWER_SECONDS)
        state = update["state"]
        if state is not None:
            if state["status"] in FINAL:  # said by `_run` once the files and the result are here
                state = {**state, "status": "running"}
            self.record.mirror(update["points"], update["history"], state)
            if self._batches_fresh:  # a resumed run's points start again from its checkpoint
                self.store.write_batches(self.run_dir, self.record.points_since(0))
                self._batches_fresh = False
            else:
                self.store.append_batches(self.run_dir, update["points"])
        for rel, data in update["files"]:
            if rel == "status.json":  # this server answers for the run: its pid, and where it trains
                write_json(self.run_dir / rel, {**json.loads(data), "pid": os.getpid(), "worker": self.worker})
            else:
                cluster.place_files(self.run_dir, [(rel, data)])
        for rel in update["deleted"]:
            cluster.inside(self.run_dir, rel).unlink(missing_ok=True)
        self._known = update["signatures"]
        if update["parent"] and update["parent"] != self._parent:
            self._parent = update["parent"]
            update_config(self.run_dir, parent=self._parent)

    def _result(self, status: str, message: str) -> TrainResult:
        metrics = read_json(self.run_dir / "metrics.json") if (self.run_dir / "metrics.json").is_file() else {}
        snap = self.record.snapshot()
        return TrainResult(
            self.run_dir, status, message, metrics.get("test_loss"), metrics.get("test_accuracy"), self.record.history(),
            snap.warnings, metrics.get("diagnosis", []),
        )  # fmt: skip

    def _interrupt(self, message: str) -> None:
        from cnn_core import checkpoints

        try:
            point = checkpoints.resume_point(self.run_dir)
            message += f"; resume it from its last checkpoint ({point.label})"
        except StudioError:
            message += "; it had saved no checkpoint yet, so start it again"
        self.record.set_status("interrupted", message)
        self.store.set_status(self.run_dir, "interrupted", message)

    def _release(self, ray, actor) -> None:
        """Let the actor remove its folder, then end it, so its CPUs go to the next job."""
        try:
            ray.get(actor.close.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - a dead actor has nothing left to remove
            pass
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001
            pass


class JobRegistry:
    """Jobs by run id. At most `max_running` train at once; one active job per owner (browser session)."""

    def __init__(self, max_running: int | None = None):
        self.max_running = max_running or default_max_jobs()
        self.slots = threading.BoundedSemaphore(self.max_running)
        self.jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def submit(
        self,
        dataset: Dataset,
        arch: ArchChoice,
        config: TrainConfig,
        owner: str,
        store: RunStore | None = None,
        parent: Parent | None = None,
    ) -> TrainingJob:
        """Start a new run (a fine-tuning one when `parent` is given) for `owner`."""
        config.check()
        arch.spec()  # refuse an invalid custom stack before creating a run
        return self._start(TrainRequest(dataset, arch, config, owner, start=Start(parent=parent)), store)

    def resume(self, run: str | Path, owner: str, dataset: Dataset, more_epochs: int = 0, store: RunStore | None = None):
        """Continue a saved run of `owner` (see `plan_resume`); `dataset` is the run's own data."""
        store = store or RunStore()
        with self._lock:
            job = self.jobs.get(Path(run).name)
            if job is not None and job.active:
                raise StudioError(f"run {job.run_id} is still {job.status}: it cannot be resumed until it stops or pauses")
        plan = plan_resume(store, run, owner, more_epochs)
        if dataset.config != plan.data:
            raise StudioError("the dataset given is not the one this run was trained on")
        plan.save_settings()
        return self._start(TrainRequest(dataset, plan.arch, plan.config, owner, plan.run_dir, plan.start), store)

    def _start(self, request: TrainRequest, store: RunStore | None) -> TrainingJob:
        kind = TrainingJob
        if cluster.address():  # the cluster must answer, and offer what a job asks, before a run is created for it
            cluster.job_resources()
            kind = RemoteJob
        prepare_tensorflow()
        with self._lock:
            busy = [j for j in self.jobs.values() if j.owner == request.owner and j.active]
            if busy:
                raise StudioError(f"run {busy[0].run_id} is still {busy[0].status}: stop it or wait before starting another")
            job = kind(self, request, store or RunStore())
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
