"""The CLI's checkpoint commands on real processes: kill -9 then resume, Ctrl-C pauses, checkpoints, evaluate --epoch."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cnn_core.runs.store import RunStore
from tests.cli import cli as run_cli
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
TRAIN = ["train", "--dataset", "shapes", "--limit", "300", "--image-size", "16", "--arch", "lenet-dropout", "--batch-size", "8"]


def cli(*args, runs):
    """A command on the runs folder `runs`, in this process (tests/cli.py): only the training that
    is killed or interrupted needs a process of its own."""
    return run_cli(*args, "--runs-dir", runs)


def start_training(runs, epochs):
    return subprocess.Popen(
        [sys.executable, "-m", "cnn_core", *TRAIN, "--epochs", str(epochs), "--runs-dir", str(runs), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_checkpoints(runs, count, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = list(runs.glob("*/checkpoints/epoch-*.json"))
        if len(found) >= count:
            return found[0].parents[1]
        time.sleep(0.01)
    raise AssertionError("no checkpoints appeared")


def test_kill_9_mid_epoch_then_resume_finishes_with_every_epoch_once(tmp_path):
    runs = tmp_path / "runs"
    proc = start_training(runs, 20)  # an epoch takes 75 ms on a fast machine: enough of them never to finish first
    run_dir = wait_for_checkpoints(runs, 2)
    time.sleep(0.03)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    assert RunStore(runs).info(run_dir).status == "interrupted"
    listed = json.loads(cli("checkpoints", run_dir.name, "--json", runs=runs).stdout)
    assert [c["epoch"] for c in listed][:2] == [1, 2] and all(c["bytes"] > 0 for c in listed)

    out = cli("resume", run_dir.name, "--json", runs=runs)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "completed"
    epochs = [row["epoch"] for row in RunStore(runs).read_history(run_dir)]
    assert epochs == list(range(1, 21))
    assert len(RunStore(runs).read_batches(run_dir)) == 20 * 29  # 225 training images in batches of 8


def test_ctrl_c_pauses_with_a_resume_point_and_resume_continues(tmp_path):
    runs = tmp_path / "runs"
    proc = start_training(runs, 40)
    run_dir = wait_for_checkpoints(runs, 1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["status"] == "paused" and "pausing after the current batch" in err
    assert (run_dir / "checkpoints" / "resume.json").is_file()
    again = cli("resume", run_dir.name, "--epochs", "0", runs=runs)
    assert again.returncode == 0, again.stderr
    refused = cli("resume", run_dir.name, runs=runs)  # nothing left to resume
    assert refused.returncode == 2 and "say how many more epochs" in refused.stderr and refused.stderr.count("\n") == 1


def test_evaluate_an_earlier_epoch_and_refusals(tmp_path):
    runs = tmp_path / "runs"
    assert cli(*TRAIN, "--epochs", "2", "--json", runs=runs).returncode == 0
    run_dir = next(runs.iterdir())
    first = json.loads(cli("evaluate", run_dir.name, "--epoch", "1", "--json", runs=runs).stdout)
    final = json.loads(cli("evaluate", run_dir.name, "--json", runs=runs).stdout)
    assert first["epoch"] == 1 and first["confusion_matrix"] != final["confusion_matrix"]
    missing = cli("evaluate", run_dir.name, "--epoch", "7", runs=runs)
    assert missing.returncode == 2 and "no checkpoint for epoch 7" in missing.stderr
    os.remove(run_dir / "checkpoints" / "epoch-0002.npz")
    assert "epoch 2" not in cli("checkpoints", run_dir.name, runs=runs).stdout
