"""The Ray backend's job: a training session run by an actor on the cluster, mirrored on this server.

See cluster.py, shipping.py and worker.py for how a job crosses the network; this is the server's side of it.
"""

from __future__ import annotations

import json

from cnn_core.errors import StudioError
from cnn_core.jobs import cluster, shipping, warm
from cnn_core.jobs.local import TrainingJob
from cnn_core.runs import liveness
from cnn_core.runs.store import locked, read_json, update_config, write_json
from cnn_core.training import precision
from cnn_core.training.fit import TrainResult
from cnn_core.training.live import FINAL


class RemoteJob(TrainingJob):
    """One training session run by a Ray actor on the cluster (see cluster.py); pages read its mirror.

    A server thread waits for its owner's turn (in classroom mode a learner's runs train one after
    another, as in process, but no slot of this machine is taken), submits the actor, then polls it
    every second: new batch points go into this job's live record (so the live view and its contract
    are unchanged), and the files the worker wrote since (checkpoints, history, TensorBoard logs, the
    model) into this server's run folder, atomically. Stop and pause are the owner's, checked here,
    then forwarded to the actor. A worker or cluster that dies leaves the run interrupted, resumable
    from the last checkpoint it sent.
    """

    backend = "the Ray cluster"
    local_slot = False  # the cluster has the CPUs; a learner's runs still train one after another (registry.py)
    POLL_SECONDS = 1.0
    ANSWER_SECONDS = 120.0  # a poll unanswered this long means the cluster is gone

    def __init__(self, registry, request, store):
        super().__init__(registry, request, store)
        self.worker: dict | None = None  # where the actor runs: host and pid
        self._known: dict[str, list[int]] = {}  # the worker's files already copied, by signature
        self._batches_fresh = True  # batches.csv is rewritten when this session's first points arrive
        self._parent: dict | None = None
        self._precision: dict | None = None  # the precision record the worker's run chose, once copied here

    def _train(self) -> None:  # once its owner's turn has come; the cluster then places it by the resources it asks
        result = self._drive()
        if result is not None:  # the result first: a page that sees the final status finds it
            self.result = result
            self.record.set_status(result.status, result.message)

    def _drive(self) -> TrainResult | None:
        ray = cluster.connect()
        from ray.exceptions import RayActorError, RayError

        actor, reusable = None, False
        try:
            actor, key = warm.lease(self._payload(ray))
            ready = actor.where.remote()
            while not ray.wait([ready], timeout=0.5)[0]:  # queued until a worker has the CPUs free
                if self.control.requested:
                    self._cancel()
                    return None
            warm.started(actor)
            self.worker = ray.get(ready)
            if not self._begin():  # cancelled as the worker came up
                return None
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
            if outcome["status"] == "stopped" and self.control.reason:  # the class time limit, not a click
                outcome["message"] = self.control.reason
                self.store.set_status(self.run_dir, "stopped", self.control.reason)
            reusable = outcome["status"] != "failed"
            return self._result(outcome["status"], outcome["message"])
        except RayActorError as exc:
            where = f" (host {self.worker['host']}, process {self.worker['pid']})" if self.worker else ""
            cause = "it ran out of memory" if "memory" in str(exc).lower() else "its process or node died"
            self._interrupt(f"the Ray worker training this run stopped{where}: {cause}")
        except (RayError, ConnectionError, TimeoutError) as exc:
            self._interrupt(f"the Ray cluster stopped answering ({type(exc).__name__})")
        finally:
            if actor is not None:
                warm.give_back(ray, actor, key, reusable)
        return None

    def _payload(self, ray) -> dict:
        """What the actor needs: the run folder, the data (by config or through the object store), settings, start."""
        r = self.request
        data = r.dataset.config.to_dict() if shipping.ships_by_config(r.dataset) else ray.put(shipping.in_memory(r.dataset))
        parent_files = {}
        if r.start.parent is not None:
            path = r.start.parent.path
            if (path / "model.keras").is_file():
                parent_files = {"model.keras": (path / "model.keras").read_bytes()}
            else:
                from cnn_core.training import checkpoints

                last = checkpoints.list_checkpoints(path)[-1].name
                names = ["config.json", f"checkpoints/{last}.npz", f"checkpoints/{last}.json"]
                parent_files = {name: (path / name).read_bytes() for name in names}
        return {
            "run_id": self.run_id, "files": shipping.run_files(self.run_dir), "data": data, "arch": r.arch.to_dict(),
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
                with locked(self.run_dir):  # one writer at a time with this server's own status updates
                    write_json(self.run_dir / rel, {**json.loads(data), **liveness.identity(), "worker": self.worker})
            else:
                shipping.place_files(self.run_dir, [(rel, data)])
        for rel in update["deleted"]:
            shipping.inside(self.run_dir, rel).unlink(missing_ok=True)
        self._known = update["signatures"]
        if update["parent"] and update["parent"] != self._parent:
            self._parent = update["parent"]
            update_config(self.run_dir, parent=self._parent)
        chosen = precision.from_record(update.get("precision"), self.request.config.precision)
        if chosen is not None and chosen.record() != self._precision:  # the exported script and a resume read it
            self._precision = chosen.record()
            update_config(self.run_dir, precision=self._precision)

    def _result(self, status: str, message: str) -> TrainResult:
        metrics = read_json(self.run_dir / "metrics.json") if (self.run_dir / "metrics.json").is_file() else {}
        snap = self.record.snapshot()
        return TrainResult(
            self.run_dir, status, message, metrics.get("test_loss"), metrics.get("test_accuracy"), self.record.history(),
            snap.warnings, metrics.get("diagnosis", []),
        )  # fmt: skip

    def _interrupt(self, message: str) -> None:
        from cnn_core.training import checkpoints

        try:
            point = checkpoints.resume_point(self.run_dir)
            message += f"; resume it from its last checkpoint ({point.label})"
        except StudioError:
            message += "; it had saved no checkpoint yet, so start it again"
        self.record.set_status("interrupted", message)
        self.store.set_status(self.run_dir, "interrupted", message)
