"""The Ray backend on a real one-node cluster that this module starts on 127.0.0.1 and stops by
the processes it started: live progress, pause, resume, stop, ownership, a killed worker, an
uploaded folder through the object store, the CLI, and nothing listening beyond loopback."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.jobs import cluster, shipping
from cnn_core.jobs.registry import JobRegistry, RemoteJob
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.training import checkpoints
from tests.cli import cli
from tests.conftest import ROOT, make_class_folder

# not imported here: Ray must first see the environment of a loopback cluster (cluster.connect sets it)
pytestmark = [
    pytest.mark.xdist_group("ray"),
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None, reason="the cluster extra is not installed (requirements-cluster.txt)"
    ),
]


@pytest.fixture(scope="module")
def mnist():
    return load_dataset(DataConfig(dataset_id="mnist-5k"))


@pytest.fixture(scope="module")
def mnist_1500():
    """A third of it: shorter epochs for the tests that train to the end."""
    return load_dataset(DataConfig(dataset_id="mnist-5k", limit=1500))


def wait_until(condition, timeout: float = 180, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def listening_addresses(pids: list[int]) -> set[str]:
    """The local addresses of the TCP sockets these processes listen on (from /proc, no tools needed)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                raw = bytes.fromhex(fields[1].split(":")[0])  # 32-bit words, each in host (little-endian) order
                ip = ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))
                found.add(str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip))
    return found


def test_a_job_on_the_cluster_trains_live_pauses_resumes_and_stops_for_its_owner_only(on_cluster, mnist):
    jobs = JobRegistry(max_running=1)
    job = jobs.submit(mnist, ArchChoice("keras-mnist"), TrainConfig(epochs=12, batch_size=16), "alice")
    assert isinstance(job, RemoteJob)
    wait_until(lambda: job.snapshot().points > 20, what="the first batches")
    first = job.snapshot().points
    wait_until(lambda: job.snapshot().points > first + 20, what="more batches")  # the mirror keeps growing
    snap = job.snapshot()
    assert snap.status == "running" and len(snap.series["loss"]) > 0 and snap.images_per_second > 0
    assert job.worker["pid"] != os.getpid()

    addresses = listening_addresses([*on_cluster.processes(), os.getpid()])
    assert addresses and addresses <= {"127.0.0.1"}, addresses  # the cluster, its worker and this driver

    with pytest.raises(StudioError, match="another browser session"):
        job.stop("mallory")
    job.pause("alice")
    job.wait(120)
    assert job.status == "paused", job.record.message
    store = RunStore()
    info = store.info(job.run_dir)
    assert info.status == "paused" and info.resumable
    point = checkpoints.resume_point(job.run_dir)
    assert (job.run_dir / "checkpoints" / "resume.json").is_file()  # sent back from the worker
    assert point.batches == store.count_batches(job.run_dir)
    status = json.loads((job.run_dir / "status.json").read_text())
    assert status["pid"] == os.getpid() and status["worker"]["pid"] == job.worker["pid"]

    with pytest.raises(StudioError, match="belongs to another session"):
        jobs.resume(job.run_id, "mallory", mnist)
    again = jobs.resume(job.run_id, "alice", mnist)
    assert isinstance(again, RemoteJob)
    wait_until(lambda: again.snapshot().points > point.batches + 20, what="batches after resuming")
    assert again.worker["pid"] == job.worker["pid"]  # resumed at once: the paused job's warm actor trains it
    again.stop("alice")
    again.wait(120)
    assert again.status == "stopped", again.record.message
    assert again.result.test_accuracy > 0.5
    history = store.read_history(job.run_dir)
    assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))
    assert store.count_batches(job.run_dir) == again.snapshot().points
    assert len(json.loads((job.run_dir / "status.json").read_text())["sessions"]) == 2
    assert list((job.run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    import keras

    assert keras.saving.load_model(job.run_dir / "model.keras").count_params() == 93_322


def test_a_killed_worker_leaves_an_interrupted_run_that_resumes_from_its_checkpoint(on_cluster, mnist_1500):
    mnist = mnist_1500
    jobs = JobRegistry(max_running=1)
    job = jobs.submit(mnist, ArchChoice("keras-mnist"), TrainConfig(epochs=8, batch_size=16), "bob")  # 0.55 s an epoch here
    wait_until(lambda: (job.run_dir / "checkpoints" / "epoch-0001.json").is_file(), what="the first checkpoint")
    os.kill(job.worker["pid"], signal.SIGKILL)
    job.wait(120)
    assert job.status == "interrupted"
    assert "Ray worker training this run stopped" in job.record.message and "resume it" in job.record.message
    info = RunStore().info(job.run_dir)
    assert info.status == "interrupted" and info.resumable

    resumed = jobs.resume(job.run_id, "bob", mnist)
    resumed.wait(300)
    assert resumed.status == "completed", resumed.record.message
    assert [row["epoch"] for row in RunStore().read_history(job.run_dir)] == list(range(1, 9))
    assert json.loads((job.run_dir / "metrics.json").read_text())["test_accuracy"] > 0.7

    # and a fine-tune of it on the cluster: the parent's model travels with the job, and the record
    # of which layers it gave comes back into the new run's config.json
    from cnn_core.training.transfer import parent_of

    parent = parent_of(job.run_dir, mnist.input_shape, freeze=True)
    child = jobs.submit(mnist, parent.arch, TrainConfig(epochs=1, batch_size=32), "bob", parent=parent)
    child.wait(300)
    assert child.status == "completed", child.record.message
    record = json.loads((child.run_dir / "config.json").read_text())["parent"]
    assert record["run_id"] == job.run_id and record["freeze"] and "conv2d" in record["copied"] and not record["fresh"]


def test_a_runs_precision_comes_back_from_the_worker_and_stays_on_resume(on_cluster, mnist_1500, monkeypatch):
    """The worker records the precision it chose in its copy of config.json, which is not sent back
    whole: the server's run must get the record (the Train page, the exported script and a resume read it).
    With warm actors off, the resume trains in a new worker, and the first one's process has ended."""
    from cnn_core.jobs import warm
    from cnn_core.takehome import export

    monkeypatch.setenv(warm.WARM_ENV, "0")
    jobs = JobRegistry(max_running=1)
    job = jobs.submit(
        mnist_1500, ArchChoice("tutorial-minimal"), TrainConfig(epochs=1, batch_size=64, precision="bfloat16"), "dan"
    )
    job.wait(300)
    assert job.status == "completed", job.record.message
    recorded = json.loads((job.run_dir / "config.json").read_text())["precision"]
    assert recorded == {"setting": "bfloat16", "chosen": "bfloat16", "reason": "mixed bfloat16, as set", "ratios": []}
    assert "    precision = 'bfloat16'" in export.script(job.run_dir)
    more = jobs.resume(job.run_id, "dan", mnist_1500, more_epochs=1)
    more.wait(300)
    assert more.status == "completed", more.record.message
    assert json.loads((job.run_dir / "config.json").read_text())["precision"] == recorded
    assert more.worker["pid"] != job.worker["pid"]
    wait_until(lambda: _gone(job.worker["pid"]), timeout=60, what="the first worker's process to end")


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_an_uploaded_folder_travels_through_the_object_store(on_cluster, tmp_path, monkeypatch):
    """And its warm actor, kept one second (CNN_STUDIO_RAY_WARM_SECONDS), ends by itself: its CPUs go back."""
    from cnn_core.jobs import warm

    monkeypatch.setenv(warm.WARM_ENV, "1")
    root = make_class_folder(tmp_path / "pets", {"cats": 30, "dogs": 30, "fish": 30})
    ds = load_dataset(DataConfig(dataset_id=f"folder:{root}"))
    assert not shipping.ships_by_config(ds)
    shutil.rmtree(root)  # the worker cannot read the images from disk: they go through Ray's object store
    job = JobRegistry().submit(ds, ArchChoice("lenet-dropout"), TrainConfig(epochs=3, batch_size=8), "carol")
    job.wait(300)
    assert job.status == "completed", job.record.message
    assert RunStore().info(job.run_dir).test_accuracy is not None
    assert not _gone(job.worker["pid"])  # kept warm for a second
    wait_until(lambda: _gone(job.worker["pid"]), timeout=60, what="the idle actor's process to end")


def test_the_cli_trains_on_the_cluster(ray_cluster, tmp_path):
    """In this process (tests/cli.py), which holds the cluster's token already: the Ctrl-C test below
    starts a real `python -m cnn_core train` on the cluster."""
    out = cli(
        "train", "--dataset", "mnist-5k", "--limit", "800", "--epochs", "2",
        "--ray-address", ray_cluster.address, "--runs-dir", str(tmp_path / "runs"), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    final = json.loads(out.stdout)
    assert final["status"] == "completed" and final["epochs"] == 2 and final["test_accuracy"] is not None
    assert "submitted to the Ray cluster" in out.stderr and out.stderr.count('"epoch"') == 2
    run = Path(final["run_dir"])
    assert (run / "model.keras").is_file() and json.loads((run / "config.json").read_text())["owner"] == "cli"


def test_the_cli_says_when_the_cluster_cannot_be_reached(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "cnn_core", "train", "--epochs", "1", "--ray-address", f"127.0.0.1:{cluster.free_port()}",
         "--runs-dir", str(tmp_path / "runs")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: the Ray cluster at 127.0.0.1:") and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_the_cluster_command_starts_a_loopback_cluster_and_ctrl_c_stops_it():
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnn_core", "cluster", "--cpus", "1", "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        text = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text += proc.stdout.readline()
            try:
                started = json.loads(text)
                break
            except ValueError:
                continue
        address = started["address"]
        assert address.startswith("127.0.0.1:") and started["env"]["RAY_AUTH_MODE"] == "token"
        cluster.check_reachable(address)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:  # a failed check must not leave the cluster running (it did, twice): its whole group
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=120)
    with pytest.raises(StudioError, match="cannot be reached"):
        cluster.check_reachable(address, timeout=1)


def test_a_job_asking_for_more_cpus_than_the_cluster_has_is_refused_before_a_run_exists(
    on_cluster, mnist, monkeypatch, workspace
):
    monkeypatch.setenv(cluster.CPUS_ENV, "3")
    with pytest.raises(StudioError, match=r"offers 2 CPU\(s\) and each run asks for 3"):
        JobRegistry().submit(mnist, ArchChoice("keras-mnist"), TrainConfig(epochs=1), "dave")
    assert list((workspace / "runs").iterdir()) == []


def test_ctrl_c_pauses_a_cli_run_on_the_worker_and_resume_finishes_it_there(on_cluster, tmp_path):
    from cnn_core.jobs import warm

    warm.drain()  # this process's warm actors would hold the CPUs that the CLI's job needs, for up to 10 s
    env = {**os.environ, **on_cluster.env()}
    runs = str(tmp_path / "runs")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnn_core", "train", "--dataset", "mnist-5k", "--limit", "600", "--epochs", "40",
         "--batch-size", "16", "--runs-dir", runs, "--json"],  # short epochs, and many: the pause lands well before the end
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while '"epoch": 1,' not in proc.stderr.readline():  # an epoch has come back from the worker
        assert proc.poll() is None, proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    final = json.loads(out)
    assert final["status"] == "paused" and "pausing after the current batch" in err
    run = Path(final["run_dir"])
    assert (run / "checkpoints" / "resume.json").is_file()  # written on the worker, sent back (a pause that
    assert checkpoints.resume_point(run).epoch < 40  # lands on an epoch's end continues from that epoch's checkpoint)
    done = cli("resume", run.name, "--runs-dir", runs, "--json")  # in this process: the pause was the process's test
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["status"] == "completed" and "submitted to the Ray cluster" in done.stderr
    assert [row["epoch"] for row in RunStore(runs).read_history(run)] == list(range(1, 41))
