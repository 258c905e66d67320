"""The Ray backend: each training job runs as a Ray actor on a cluster, not in the server's process.

Optional: `pip install 'cnn-studio[cluster]'`. It is on when `CNN_STUDIO_RAY_ADDRESS` (or
`--ray-address`) names a running cluster's GCS address (`host:port`); unset, jobs train in the
server's own threads and Ray is never imported.

How a job crosses the network (see `remote.RemoteJob` for the server's side):
- **Out:** the run's folder as it stands (config, checkpoints to resume from, curves so far), the
  parent run's model for a fine-tune, and the data: by its configuration for the registry's
  datasets (bundled ones load on the worker; Keras ones from the worker's own files), or the
  decoded images through Ray's object store for uploaded folders and zips.
- **Back:** every few seconds the server asks the actor what changed: the new batch points, the
  epochs, the status, and the run files written since (checkpoints, history, TensorBoard logs,
  finally the model and the test metrics). The server writes them into its own run store,
  atomically, so its runs folder stays the one source of truth and no shared filesystem is needed.

`worker.Trainer` is plain Python (the actor is made from it when Ray is connected), so its
bookkeeping is tested without a cluster; `shipping` moves the files and the data; `LocalCluster` starts a one-node cluster on 127.0.0.1 for tests,
benchmarks and trying the backend out.
"""

from __future__ import annotations

import ipaddress
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

from cnn_core.errors import StudioError

ADDRESS_ENV = "CNN_STUDIO_RAY_ADDRESS"
CPUS_ENV = "CNN_STUDIO_RAY_CPUS"  # CPUs each job asks the cluster for (default 1)
INSTALL_HINT = "pip install 'cnn-studio[cluster]' (or pip install -r requirements-cluster.txt)"
# Ray resolves 127.0.0.1 to the machine's network address and listens on every interface, unless
# this is 0; a cluster on loopback needs it in the server's environment before Ray is imported.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
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
        from cnn_core.jobs.worker import Trainer

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


def start_actor(job: dict, resources: dict):
    """A new actor for one job (`resources` from `job_resources`, which joined the cluster), scheduled
    by the cluster when a worker has them free.

    Concurrency 4: `train` runs for the whole job while `poll`, `stop` and `pause` still answer.
    """
    return _joined["actor"].options(**resources, max_concurrency=4, max_restarts=0).remote(job)


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

    def stop(self, grace: float = 3) -> None:
        """End every process it started (SIGTERM, then SIGKILL after `grace` seconds) and remove its folder.
        Ray's GCS server, raylet and monitor took 10-12 s to obey SIGTERM here, and keep nothing outside it."""
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
