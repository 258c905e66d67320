"""The worker's side of the Ray backend: one job trains in a private folder and tells the server
what changed when asked (see `cluster` for joining a cluster, `remote` for the server's side)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from cnn_core.errors import StudioError
from cnn_core.jobs.shipping import changes, place_files

log = logging.getLogger("cnn_studio.cluster")


class Trainer:
    """One job on a worker: trains in a private folder and tells the server what changed.

    Made into a Ray actor by `connect` (`ray.remote(Trainer)`); plain Python otherwise. A warm actor
    (`warm.py`) takes its next job with `begin` after `close`.
    """

    def __init__(self, job: dict):
        self.begin(job)

    def begin(self, job: dict) -> None:
        """Take `job`: a private folder of its own, holding the run's files."""
        from cnn_core.training.live import Control

        self.job = job
        self.folder = Path(tempfile.mkdtemp(prefix="cnn-studio-job-"))
        self.run_dir = self.folder / job["run_id"]
        self.run_dir.mkdir()
        place_files(self.run_dir, job["files"])
        self.control = Control()
        self.record = None
        self.started = time.time()

    def where(self) -> dict:
        """The worker's host and process id (the server names them when a worker dies)."""
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def train(self) -> dict:
        """Load the data, train (or resume) and save; the outcome as plain data. Never raises."""
        from cnn_core.runs.store import RunStore

        store = RunStore(self.folder)
        try:
            self._limit_threads()
            from cnn_core.settings.config import ArchChoice, TrainConfig
            from cnn_core.training.build import prepare_tensorflow
            from cnn_core.training.fit import new_record, run_training

            prepare_tensorflow()
            dataset = self._dataset()
            config = TrainConfig.from_dict(self.job["train"])
            self.record = new_record(dataset, config)
            result = run_training(
                dataset, ArchChoice.from_dict(self.job["arch"]), config, self.run_dir, store, self.record, self.control,
                start=self._start(),
            )  # fmt: skip
            return {"status": result.status, "message": result.message}
        except StudioError as exc:
            return self._failed(store, str(exc))
        except Exception as exc:  # noqa: BLE001 - the run records any failure; the server stays up
            log.exception("training run %s failed on this worker", self.run_dir.name)
            return self._failed(store, f"{type(exc).__name__}: {exc}")

    def _failed(self, store, message: str) -> dict:
        message = f"on the Ray worker {socket.gethostname()}: {message}"
        if self.record is not None:
            self.record.set_status("failed", message)
        store.set_status(self.run_dir, "failed", message)
        return {"status": "failed", "message": message}

    def _limit_threads(self) -> None:
        """TensorFlow uses the CPUs the cluster gave this job, not every core of the machine."""
        try:
            import ray

            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
        except Exception:  # noqa: BLE001 - outside Ray (tests): TensorFlow's default
            cpus = None
        if cpus:
            import tensorflow as tf

            threads = max(1, int(cpus))  # a warm actor's next job asks for the same CPUs: TensorFlow then changes nothing
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)

    def _dataset(self):
        data = self.job["data"]
        if not isinstance(data, dict):  # an object store reference (or the dataset itself, outside Ray)
            import ray

            return ray.get(data) if isinstance(data, ray.ObjectRef) else data
        from cnn_core.data.datasets import load_dataset
        from cnn_core.settings.config import DataConfig

        return load_dataset(DataConfig.from_dict(data))

    def _start(self):
        from cnn_core.training.fit import Start

        start = self.job["start"]
        parent = start.parent
        if parent is not None:  # its model came along: read it from this worker's copy
            folder = self.folder / f"parent-{parent.run_id}"
            folder.mkdir()
            place_files(folder, self.job["parent_files"])
            parent.path = folder
        return Start(resume=start.resume, parent=parent, freeze=start.freeze)

    def stop(self) -> None:
        self.control.stop.set()

    def pause(self) -> None:
        self.control.pause.set()

    def poll(self, points_from: int, known: dict[str, list[int]]) -> dict:
        """What changed since the server last asked: batch points, epochs, the live state, files, and
        what training wrote into this copy's config.json (which is not sent back whole): the precision
        it chose and which layers came from a parent."""
        files, deleted, now = changes(self.run_dir, known)
        record = self.record
        try:
            config = json.loads((self.run_dir / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        parent = config.get("parent") if self.job["start"].parent is not None else None
        return {
            "points": record.points_since(points_from) if record else [],
            "history": record.history() if record else [],
            "state": record.state() if record else None,
            "files": files,
            "signatures": now,
            "deleted": deleted,
            "parent": parent,
            "precision": config.get("precision"),
        }

    def close(self) -> None:
        """Remove this job's private folder (everything in it has gone back to the server)."""
        shutil.rmtree(self.folder, ignore_errors=True)
