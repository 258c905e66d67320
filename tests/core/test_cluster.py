"""The Ray backend's bookkeeping without a cluster: what travels, where it lands, and the messages
for a cluster that is not there (the real cluster is in test_ray_backend.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from cnn_core.errors import StudioError
from cnn_core.jobs import cluster, shipping
from cnn_core.training.live import LiveRecord
from tests.conftest import ROOT


def test_changes_lists_new_changed_and_deleted_files_in_a_safe_order(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name, data in {"status.json": b"{}", "history.csv": b"epoch\n1\n", "config.json": b"{}", "batches.csv": b"x",
                       "checkpoints/epoch-0001.json": b"{}", "checkpoints/epoch-0001.npz": b"npz",
                       "checkpoints/.epoch-0002.npz.9.tmp": b"half", "metrics.json": b"{}"}.items():  # fmt: skip
        (run / name).write_bytes(data)
    files, deleted, known = shipping.changes(run, {})
    names = [rel for rel, _ in files]
    assert names == ["checkpoints/epoch-0001.npz", "checkpoints/epoch-0001.json", "history.csv", "metrics.json", "status.json"]
    assert deleted == []  # config.json and batches.csv stay the server's; hidden temporaries never travel
    assert shipping.changes(run, known)[0] == []  # nothing changed since

    (run / "history.csv").write_bytes(b"epoch\n1\n2\n")
    (run / "checkpoints" / "epoch-0001.npz").unlink()
    (run / "checkpoints" / "epoch-0001.json").unlink()
    files, deleted, _ = shipping.changes(run, known)
    assert files == [("history.csv", b"epoch\n1\n2\n")]
    assert sorted(deleted) == ["checkpoints/epoch-0001.json", "checkpoints/epoch-0001.npz"]


def test_place_files_writes_inside_the_run_folder_and_refuses_the_rest(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shipping.place_files(run, [("tensorboard/train/events.out", b"e"), ("history.csv", b"h")])
    assert (run / "tensorboard" / "train" / "events.out").read_bytes() == b"e"
    for rel in ("../outside.txt", "/etc/cnn-studio", "tensorboard/../../outside.txt"):
        with pytest.raises(StudioError, match="outside its run folder"):
            shipping.place_files(run, [(rel, b"x")])
    assert not (tmp_path / "outside.txt").exists()


def test_a_mirror_follows_a_record_from_its_points_and_state():
    source, mirror = LiveRecord(3, 10, 8, 80), LiveRecord(3, 10, 8, 80)
    source.set_status("running")
    seen = 0
    for epoch in range(2):
        source.start_epoch(epoch)
        for step in range(10):
            source.add_batch(step, {"loss": 2.0 / (1 + step + epoch * 10), "accuracy": 0.1 * step}, lr=0.01)
            if step % 4 == 0:  # the server asks now and then, and gets only what is new
                mirror.mirror(source.points_since(seen), source.history(), source.state())
                seen = mirror.snapshot().points
        source.add_epoch(epoch, {"loss": 1.0, "accuracy": 0.5})
    last_state = source.state()
    mirror.mirror(source.points_since(seen), source.history(), last_state)
    a, b = source.snapshot(), mirror.snapshot()
    assert (b.points, b.epoch, b.step, b.status, b.history) == (a.points, a.epoch, a.step, a.status, a.history)
    for key in ("loss", "accuracy", "lr"):
        assert b.series[key].smooth.tolist() == a.series[key].smooth.tolist()
    # the rate the source last reported (its own is recomputed at each snapshot: it moved 50 % in a loaded CI run)
    assert b.images_per_second == last_state["rate"] > 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_cluster_is_said_at_once_and_no_run_is_created(monkeypatch, workspace):
    from cnn_core.data.datasets import load_dataset
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig

    monkeypatch.setenv(cluster.ADDRESS_ENV, f"127.0.0.1:{free_port()}")
    ds = load_dataset(DataConfig(dataset_id="digits"))
    with pytest.raises(StudioError, match=r"cannot be reached \(Connection refused\).*unset CNN_STUDIO_RAY_ADDRESS"):
        JobRegistry().submit(ds, ArchChoice("tutorial-minimal"), TrainConfig(epochs=1), "someone")
    assert list((workspace / "runs").iterdir()) == []
    with pytest.raises(StudioError, match="not a Ray cluster address"):
        cluster.connect("head-node-without-port")


def test_without_ray_installed_the_message_says_how_to_install_it(workspace):
    with socket.socket() as listening:  # something answers at the address, but this Python has no Ray
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        code = (
            "import sys; sys.modules['ray'] = None\n"
            "from cnn_core.jobs import cluster\n"
            "from cnn_core.errors import StudioError\n"
            "try:\n    cluster.connect()\nexcept StudioError as e:\n    print(e)\n"
        )
        env = {**os.environ, cluster.ADDRESS_ENV: f"127.0.0.1:{listening.getsockname()[1]}"}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "Ray is not installed" in out.stdout and "cnn-studio[cluster]" in out.stdout, out.stderr


def test_without_an_address_nothing_imports_ray():
    code = (
        "import sys\n"
        "import cnn_core.jobs.registry, cnn_core.jobs.cluster, ui.launcher\n"
        "from cnn_core.cli import build_parser\n"
        "build_parser().parse_args(['train', '--epochs', '1'])\n"
        "print('ray' in sys.modules, cnn_core.jobs.cluster.address() == '')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != cluster.ADDRESS_ENV}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_serve_takes_the_ray_address_flag_out_of_streamlits_options(monkeypatch):
    from ui.launcher import take_ray_address

    monkeypatch.setenv(cluster.ADDRESS_ENV, "")  # recorded, so the value set below is undone after the test
    rest = take_ray_address(["--server.port", "9", "--ray-address", "10.0.0.5:6379", "--server.headless", "true"])
    assert rest == ["--server.port", "9", "--server.headless", "true"]
    assert os.environ[cluster.ADDRESS_ENV] == "10.0.0.5:6379"
    assert take_ray_address(["--ray-address=127.0.0.1:1"]) == [] and cluster.address() == "127.0.0.1:1"


def test_the_in_process_cli_leaves_the_ray_address_behind_as_a_process_would(monkeypatch, tmp_path):
    """`tests.cli.cli` stands in for `python -m cnn_core`: a `--ray-address` it was given must not stay in
    this process's environment (it did, and later tests of the same worker trained on the cluster)."""
    from tests.cli import cli

    monkeypatch.delenv(cluster.ADDRESS_ENV, raising=False)
    out = cli("train", "--epochs", "1", "--ray-address", f"127.0.0.1:{free_port()}", "--runs-dir", tmp_path / "runs")
    assert out.returncode != 0 and "cannot be reached" in out.stderr, out.stderr[-2000:]
    assert cluster.ADDRESS_ENV not in os.environ


def test_warm_seconds_come_from_the_environment_and_a_bad_value_says_what_is_expected(monkeypatch):
    from cnn_core.jobs import warm

    monkeypatch.delenv(warm.WARM_ENV, raising=False)
    assert warm.warm_seconds() == 10.0
    monkeypatch.setenv(warm.WARM_ENV, "0")
    assert warm.warm_seconds() == 0.0
    monkeypatch.setenv(warm.WARM_ENV, "soon")
    with pytest.raises(StudioError, match="CNN_STUDIO_RAY_WARM_SECONDS must be a number of seconds"):
        warm.warm_seconds()
    assert warm.drain() == 0  # nothing idle, and Ray not needed to say so
