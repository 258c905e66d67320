"""The Ray backend: each training job runs as a Ray actor on a cluster, not in the server's process.

Optional: `pip install 'cnn-studio[cluster]'`. It is on when `CNN_STUDIO_RAY_ADDRESS` (or
`--ray-address`) names a running cluster's GCS address (`host:port`); unset, jobs train in the
server's own threads and Ray is never imported.

How a job crosses the network (see `jobs.RemoteJob` for the server's side):
- **Out:** the run's folder as it stands (config, checkpoints to resume from, curves so far), the
  parent run's model for a fine-tune, and the data: by its configuration for the registry's
  datasets (bundled ones load on the worker; Keras ones from the worker's own files), or the
  decoded images through Ray's object store for uploaded folders and zips.
- **Back:** every few seconds the server asks the actor what changed: the new batch points, the
  epochs, the status, and the run files written since (checkpoints, history, TensorBoard logs,
  finally the model and the test metrics). The server writes them into its own run store,
  atomically, so its runs folder stays the one source of truth and no shared filesystem is needed.

`Trainer` is plain Python (the actor is made from it when Ray is connected), so its bookkeeping is
tested without a cluster; `LocalCluster` starts a one-node cluster on 127.0.0.1 for tests,
benchmarks and trying the backend out.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core.errors import StudioError

ADDRESS_ENV = "CNN_STUDIO_RAY_ADDRESS"
CPUS_ENV = "CNN_STUDIO_RAY_CPUS"  # CPUs each job asks the cluster for (default 1)
INSTALL_HINT = "pip install 'cnn-studio[cluster]' (or pip install -r requirements-cluster.txt)"
# Ray resolves 127.0.0.1 to the machine's network address and listens on every interface, unless
# this is 0; a cluster on loopback needs it in the server's environment before Ray is imported.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
SKIPPED = ("config.json", "batches.csv")  # the server keeps its own (see RemoteJob)
log = logging.getLogger("cnn_studio.cluster")


def address() -> str:
    """The cluster's address from `CNN_STUDIO_RAY_ADDRESS`; empty when jobs train in this process."""
    return os.environ.get(ADDRESS_ENV, "").strip()


def use_address(value: str | None) -> None:
    """Make `value` (a `--ray-address` flag) this process's cluster; None leaves the environment as it is."""
    if value is not None:
        os.environ[ADDRESS_ENV] = value.strip()


def split_address(value: str) -> tuple[str, int]:
    """`host:port` → (host, port); `StudioError` saying what an address looks like otherwise."""
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise StudioError(f"'{value}' is not a Ray cluster address: give the head node's host:port, e.g. 10.0.0.5:6379")
    return host, int(port)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_reachable(value: str, timeout: float = 3.0) -> None:
    """Fail fast, with a message, when nothing answers at the address (Ray itself retries for minutes)."""
    host, port = split_address(value)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StudioError(
            f"the Ray cluster at {value} cannot be reached ({reason}): start it (`ray start --head ...`), "
            f"or unset {ADDRESS_ENV} to train on this machine"
        ) from None


_probed: dict[str, tuple[float, str]] = {}


def problem(ttl: float = 10.0) -> str:
    """Why the configured cluster cannot take jobs now ("" when it answers, or when none is set);
    probed at most every `ttl` seconds, with a short timeout, so a page can say it on every rerun."""
    value = address()
    if not value:
        return ""
    at, said = _probed.get(value, (0.0, ""))
    if time.monotonic() - at > ttl:
        try:
            check_reachable(value, timeout=1.0)
            said = ""
        except StudioError as exc:
            said = str(exc)
        _probed[value] = (time.monotonic(), said)
    return said


_lock = threading.Lock()
_joined: dict = {}


def connect(value: str | None = None):
    """Join the cluster (once per process) and return the `ray` module; `StudioError` when it cannot.

    A process keeps the authentication token it first joined with: joining another cluster later
    works only if that one uses the same token."""
    value = value or address()
    if not value:
        raise StudioError(f"no Ray cluster is set: set {ADDRESS_ENV} or pass --ray-address")
    host, _ = split_address(value)
    check_reachable(value)  # before anything else: Ray itself would retry for minutes
    if is_loopback(host):
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError:
        raise StudioError(f"Ray is not installed, so jobs cannot run on the cluster at {value}: {INSTALL_HINT}") from None
    with _lock:
        if ray.is_initialized() and _joined.get("address") == value:
            return ray
        if ray.is_initialized():
            ray.shutdown()
        # Ray ends a driver whose cluster has been gone for 60 s; this process is the app's server,
        # which must keep serving (its jobs are marked interrupted instead)
        os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(10 * 365 * 86400))
        try:
            ray.init(address=value, namespace="cnn-studio", logging_level=logging.WARNING, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError or its own errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StudioError(
                f"could not join the Ray cluster at {value} ({first}). A cluster with token authentication needs "
                "RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH) here too"
            ) from None
        _joined.update(address=value, actor=ray.remote(Trainer))
    return ray


def job_resources() -> dict:
    """What each job asks for: `CNN_STUDIO_RAY_CPUS` CPUs (1), and a GPU when the cluster has one."""
    ray = connect()
    try:
        cpus = float(os.environ.get(CPUS_ENV, "1"))
    except ValueError:
        raise StudioError(f"{CPUS_ENV} must be a number of CPUs, such as 1 or 2") from None
    offered = ray.cluster_resources()
    if offered.get("CPU", 0) < cpus:  # the job would wait for ever
        raise StudioError(
            f"the Ray cluster at {address()} offers {offered.get('CPU', 0):g} CPU(s) and each run asks for {cpus:g} "
            f"({CPUS_ENV}): start a worker on it (`ray start --address={address()}`)"
        )
    gpus = 1 if offered.get("GPU", 0) >= 1 else 0
    return {"num_cpus": cpus, "num_gpus": gpus}


def start_actor(job: dict):
    """A new actor for one job, scheduled by the cluster when a worker has its resources free.

    Concurrency 4: `train` runs for the whole job while `poll`, `stop` and `pause` still answer.
    """
    resources = job_resources()  # joins the cluster too
    return _joined["actor"].options(**resources, max_concurrency=4, max_restarts=0).remote(job)


# ---------------------------------------------------------------------------------------------
# What travels: run files out and back, and the data


def run_files(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run folder (its checkpoints and logs too), by path inside it; hidden temporaries left out."""
    return {rel: (run_dir / rel).read_bytes() for rel in signatures(run_dir)}


def signatures(run_dir: Path) -> dict[str, list[int]]:
    """Each file's (size, modification time in ns), to tell what changed since the last look."""
    found = {}
    for path in sorted(Path(run_dir).rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or not path.is_file():
            continue
        try:
            stat = path.stat()
        except OSError:  # replaced or removed while we looked: the next look sees it
            continue
        found[rel] = [stat.st_size, stat.st_mtime_ns]
    return found


def write_order(rel: str) -> tuple[int, str]:
    """Files are written back so that a reader never sees a half checkpoint or an early "completed":
    checkpoint arrays before their JSON, and the status last of all."""
    if rel == "status.json":
        return (4, rel)
    if rel == "metrics.json":
        return (3, rel)
    if rel.startswith("checkpoints/"):
        return (1 if rel.endswith(".json") else 0, rel)
    return (2, rel)


def changes(run_dir: Path, known: dict[str, list[int]]) -> tuple[list[tuple[str, bytes]], list[str], dict[str, list[int]]]:
    """Files new or changed since `known` (in write order), files deleted since (old checkpoints), and
    the signatures they were listed with (a file that changes while being read is sent again next time)."""
    now = signatures(run_dir)
    files = []
    for rel in sorted(now, key=write_order):
        if rel in SKIPPED or known.get(rel) == now[rel]:
            continue
        try:
            files.append((rel, (Path(run_dir) / rel).read_bytes()))
        except OSError:
            continue
    return files, [rel for rel in known if rel not in now], now


def inside(run_dir: Path, rel: str) -> Path:
    """The path of `rel` in `run_dir`; `StudioError` for anything that would leave it."""
    target = (Path(run_dir) / rel).resolve()
    root = Path(run_dir).resolve()
    if rel.startswith(("/", "\\")) or ".." in Path(rel).parts or root not in target.parents:
        raise StudioError(f"a worker sent a file outside its run folder ({rel!r}); it was refused")
    return target


def place_files(run_dir: Path, files: list[tuple[str, bytes]] | dict[str, bytes]) -> None:
    """Write files into a run folder, each atomically, refusing any path that leaves it."""
    from cnn_core.runs.store import atomic_write

    for rel, data in files.items() if isinstance(files, dict) else files:
        target = inside(run_dir, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)


def in_memory(dataset):
    """The dataset with every split's images decoded into arrays (a large folder is read from disk
    on access; a worker on another machine cannot read this one's disk)."""
    from dataclasses import replace

    from cnn_core.data.datasets import Split

    def load(split: Split) -> Split:
        images = split.images if isinstance(split.images, np.ndarray) else split.images[np.arange(len(split))]
        return Split(np.asarray(images, np.uint8), split.labels, split.files)

    return replace(dataset, train=load(dataset.train), validation=load(dataset.validation), test=load(dataset.test))


def ships_by_config(dataset) -> bool:
    """Bundled, generated and Keras datasets load on the worker; folders and zips travel as images."""
    return dataset.spec.kind in ("bundled", "generated", "download")


# ---------------------------------------------------------------------------------------------
# The worker's side


class Trainer:
    """One job on a worker: trains in a private folder and tells the server what changed.

    Made into a Ray actor by `connect` (`ray.remote(Trainer)`); plain Python otherwise.
    """

    def __init__(self, job: dict):
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
            from cnn_core.training.fit import new_record, prepare_tensorflow, run_training

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

            tf.config.threading.set_intra_op_parallelism_threads(max(1, int(cpus)))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, int(cpus)))

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
        """What changed since the server last asked: batch points, epochs, the live state, and files."""
        files, deleted, now = changes(self.run_dir, known)
        record = self.record
        parent = None
        if self.job["start"].parent is not None:  # which layers came from the parent (written as training starts)
            parent = json.loads((self.run_dir / "config.json").read_text(encoding="utf-8")).get("parent")
        return {
            "points": record.points_since(points_from) if record else [],
            "history": record.history() if record else [],
            "state": record.state() if record else None,
            "files": files,
            "signatures": now,
            "deleted": deleted,
            "parent": parent,
        }

    def close(self) -> None:
        """Remove this job's private folder (everything in it has gone back to the server)."""
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# A one-node cluster on loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalCluster:
    """A one-node Ray cluster on 127.0.0.1 (`ray start --head --block`), with its own token and
    folder, stopped by ending the processes it started. For tests, benchmarks and trying it out."""

    cpus: int = 2
    process: subprocess.Popen | None = None
    folder: Path | None = None
    address: str = ""
    token: str = ""

    def env(self) -> dict[str, str]:
        """What a server or CLI needs in its environment to use this cluster."""
        return {ADDRESS_ENV: self.address, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, LOOPBACK_ENV: "0"}

    def start(self, timeout: float = 90) -> LocalCluster:
        # a short folder: Ray's Unix sockets live under it and their paths are limited to 107 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="cnnray-"))
        self.token = self.token or secrets.token_hex(16)  # a process keeps the first token it used with Ray
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        ray = Path(sys.executable).with_name("ray")
        command = [
            str(ray if ray.exists() else shutil.which("ray") or "ray"), "start", "--head", "--block",
            "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={self.cpus}", "--num-gpus=0",
            "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={self.folder}",
            f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
        ]  # fmt: skip
        log_file = open(self.folder / "start.log", "wb")
        self.process = subprocess.Popen(
            command, env={**os.environ, **self.env()}, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StudioError(f"the local Ray cluster did not start: {self.log()[-800:]}")
            if b"Ray runtime started" in (self.folder / "start.log").read_bytes():
                try:
                    check_reachable(self.address, 1)
                    return self
                except StudioError:
                    pass
            time.sleep(0.3)
        self.stop()
        raise StudioError(f"the local Ray cluster did not start in {timeout:.0f} s")

    def log(self) -> str:
        try:
            return (self.folder / "start.log").read_text(errors="replace")
        except OSError:
            return ""

    def processes(self) -> list[int]:
        """The live processes this cluster started: `ray start` and everything below it (workers too),
        and any that outlived their parent but still name this cluster's folder on their command line."""
        if self.process is None:
            return []
        children: dict[int, list[int]] = {}
        named = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    if str(self.folder).encode() in (entry / "cmdline").read_bytes():
                        named.append(int(entry.name))
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        found, todo = set(), [self.process.pid, *named]
        while todo:
            pid = todo.pop()
            if pid not in found:
                found.add(pid)
                todo += children.get(pid, [])
        return sorted(p for p in found if _alive(p))

    def stop(self, grace: float = 10) -> None:
        """End every process it started (SIGTERM, then SIGKILL after `grace` seconds) and remove its folder."""
        pids = self.processes()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(_alive(p) for p in pids):
                if self.process is not None:
                    self.process.poll()
                time.sleep(0.2)
        if self.process is not None:
            self.process.wait(timeout=5)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
