"""Sweeps that really train (digits, 150 images at 16x16, the smallest preset): a grid gives one
complete run per value and picks the best, a diverging learning rate is pruned before its last
epoch, a paused sweep resumes without training a complete trial again, a killed CLI sweep
resumes the same way, and the sweep's report quotes what it shows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.jobs.registry import JobRegistry
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps import definition as sweeps
from cnn_core.sweeps import study
from cnn_core.sweeps.definition import SweepDefinition
from cnn_core.sweeps.driver import SweepDriver
from cnn_core.sweeps.space import parse_param
from tests.cli import cli
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
DATA = DataConfig(dataset_id="digits", limit=150, image_size=16)
EPOCHS = 150  # a pause lands within a trial this long (6, then 15, raced to the end on a loaded 2-core machine;
# 40 left 0.1-0.3 s on a fast one, where an epoch takes 14 ms and the driver looks every 0.2 s)
TINY = ["--dataset", "digits", "--limit", "150", "--image-size", "16", "--arch", "tutorial-minimal"]


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DATA)


def drive(digits, params: list[str], epochs: int = 2, store: RunStore | None = None, **changes) -> tuple[SweepDriver, RunStore]:
    definition = SweepDefinition(
        DATA, ArchChoice("tutorial-minimal"), TrainConfig(epochs=epochs), tuple(map(parse_param, params)),
        **{"search": "grid", **changes},
    )  # fmt: skip
    store = store or RunStore()
    driver = SweepDriver(sweeps.create(store, definition, "cli"), "cli", digits, store, JobRegistry(max_running=1))
    return driver, store


@pytest.fixture(scope="module")
def grid(digits, tmp_path_factory):
    """One finished three-value grid (named with markup, for the report), shared by the tests that read it."""
    store = RunStore(tmp_path_factory.mktemp("grid") / "runs")
    driver, store = drive(digits, ["learning_rate=0.001,0.003,0.01"], store=store, name='<script>alert("x")</script>')
    driver.run()
    return driver, store


def test_a_three_value_grid_gives_three_complete_runs_and_the_best_has_the_highest_val_accuracy(grid):
    driver, store = grid
    assert driver.status == "completed", driver.message
    rows = study.trial_rows(driver.sweep, store)
    assert [r.state for r in rows] == ["complete"] * 3
    assert [r.params["learning_rate"] for r in rows] == [0.001, 0.003, 0.01]
    runs = store.list_runs()
    assert len(runs) == 3 and {r.status for r in runs} == {"completed"}
    assert {r.run_id for r in runs} == {r.run_id for r in rows}
    for row in rows:  # every trial is a normal run that names its sweep and trial
        config = read_json(store.root / row.run_id / "config.json")
        assert config["sweep"] == {"id": driver.sweep.sweep_id, "trial": row.number}
        assert config["train"]["learning_rate"] == row.params["learning_rate"]
        history = store.read_history(store.root / row.run_id)
        assert row.val_accuracy == pytest.approx(float(history[-1]["val_accuracy"]))
        assert (store.root / row.run_id / "model.keras").is_file() and row.test_accuracy is not None
    best = study.best(rows)
    assert best.val_accuracy == max(r.val_accuracy for r in rows)
    assert f"best: trial {best.number}" in driver.sweep.status()["message"]


def test_a_diverging_learning_rate_is_pruned_before_its_last_epoch(digits):
    driver, store = drive(digits, ["learning_rate=0.01,5.0"], epochs=60, prune="median")  # pruned well before its end
    assert driver.run() == "completed"
    good, diverging = study.trial_rows(driver.sweep, store)
    assert (good.state, diverging.state) == ("complete", "pruned")
    run = store.root / diverging.run_id
    epochs_trained = len(store.read_history(run))
    assert epochs_trained < 60
    status = store.status(run)
    assert status["status"] == "stopped" and status["message"].startswith("pruned after epoch ")
    assert "below the median of the complete trials" in status["message"]
    pruned = read_json(run / "config.json")["sweep"]["pruned"]
    assert 1 <= pruned["epoch"] < epochs_trained + 1 and "median" in pruned["reason"]
    assert diverging.message.startswith(f"pruned after epoch {pruned['epoch']}")


def test_a_paused_sweep_resumes_without_training_a_complete_trial_again(digits):
    driver, store = drive(digits, ["learning_rate=0.003,0.01"], epochs=EPOCHS)
    driver.thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(len(t.reported) >= 2 for t in list(driver.running.values())):
        time.sleep(0.05)
    driver.pause()
    driver.wait(120)
    assert driver.status == "paused"
    rows = study.trial_rows(driver.sweep, store)
    assert rows[0].state == "paused" and 2 <= rows[0].epochs < EPOCHS
    assert driver.sweep.status()["status"] == "paused"
    again = SweepDriver(sweeps.load(store, driver.sweep.sweep_id), "cli", digits, store, JobRegistry(max_running=1))
    assert again.run() == "completed"
    rows = study.trial_rows(again.sweep, store)
    assert [r.state for r in rows] == ["complete", "complete"]
    assert len(store.list_runs()) == 2  # the paused trial's run went on; no run was made twice
    first = store.read_history(store.root / rows[0].run_id)
    assert [int(r["epoch"]) for r in first] == list(range(1, EPOCHS + 1))
    assert rows[0].epochs == EPOCHS


def sweep_cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "cnn_core", "sweep", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


def test_a_killed_sweep_resumes_without_repeating_complete_trials(workspace):
    runs = workspace / "runs"
    # 450 training images and 30 epochs: a trial takes over a second even on a fast machine (TINY's 12 epochs took
    # 0.2 s), so the second trial is still training when this test sees its first checkpoint and kills the sweep
    process = sweep_cli("--dataset", "digits", "--limit", "600", "--image-size", "16", "--arch", "tutorial-minimal",
                        "--epochs", "30", "--search", "grid", "--param", "learning_rate=0.001,0.003,0.01",
                        "--runs-dir", str(runs))  # fmt: skip
    store = RunStore(runs)
    deadline = time.monotonic() + 180

    def completed() -> list[str]:
        return [r.run_id for r in store.list_runs() if r.status == "completed"]

    while time.monotonic() < deadline and not (len(completed()) == 1 and len(store.list_runs()) == 2):
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    second = next(r.path for r in store.list_runs() if r.status != "completed")  # run ids of one second sort at random
    while time.monotonic() < deadline and not store.info(second).checkpoints:
        time.sleep(0.05)  # the second trial has a checkpoint to resume from
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    before = completed()
    (sweep,) = sweeps.list_sweeps(store)
    assert len(before) == 1 and sweep.status()["status"] == "interrupted"
    page = workspace / "sweep.html"
    # the resume runs in this process (tests/cli.py): only the killed sweep needed a process of its own
    resumed = cli("sweep", "--resume", sweep.sweep_id, "--runs-dir", str(runs), "--json", "--report", str(page))
    out, err = resumed.stdout, resumed.stderr
    assert resumed.returncode == 0, err
    result = json.loads(out)
    assert result["sweep"] == sweep.sweep_id
    assert [t["state"] for t in result["trials"]] == ["complete"] * 3
    assert sorted(t["params"]["learning_rate"] for t in result["trials"]) == [0.001, 0.003, 0.01]
    assert before[0] in [t["run_id"] for t in result["trials"]]  # the complete trial was kept, not trained again
    assert len(completed()) == 3 and len(store.list_runs()) == 3  # the killed trial's run resumed
    assert "resumed run" in err
    assert result["best"]["val_accuracy"] == max(t["val_accuracy"] for t in result["trials"])
    assert set(result["best"]) >= {"run_id", "params", "val_accuracy", "test_accuracy", "state"}
    assert sweep.sweep_id in page.read_text() and result["best"]["run_id"] in page.read_text()


def test_the_time_limit_stops_the_running_trial_and_starts_no_other(digits):
    driver, store = drive(digits, ["learning_rate=0.003,0.01"], epochs=1000, time_limit=0.05)  # never ends before its time limit
    assert driver.run() == "completed"
    (row,) = study.trial_rows(driver.sweep, store)
    assert row.state == "pruned" and row.epochs < 1000
    assert store.status(store.root / row.run_id)["message"].startswith("stopped at the sweep's time limit of 0.05 minutes")
    assert "the time limit ended it" in driver.sweep.status()["message"]


def test_the_report_is_one_html_file_that_quotes_safely(grid):
    driver, store = grid
    from cnn_core.sweeps.report import report

    page = report(driver.sweep, store)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    rows = study.trial_rows(driver.sweep, store)
    assert all(r.run_id in page for r in rows) and "Best: trial" in page
    assert page.count("<h2>") >= 5 and "Validation accuracy per epoch" in page and '<script src="http' not in page


def test_ctrl_c_pauses_a_cli_sweep(workspace):
    runs = workspace / "runs"
    process = sweep_cli(*TINY, "--epochs", "1000", "--param", "dropout=0.1,0.5", "--search", "grid",
                        "--runs-dir", str(runs), "--json")  # fmt: skip
    store = RunStore(runs)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (store.list_runs() and store.read_history(store.list_runs()[0].path)):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "paused" and [t["state"] for t in result["trials"]] == ["paused"]
    (run,) = store.list_runs()
    assert run.status == "paused" and run.resumable and 1 <= run.epochs_done < 1000
    assert "pausing the sweep" in err


def test_class_limits_apply_to_every_trial_and_a_learner_sees_only_their_sweeps(digits, monkeypatch):
    from cnn_core.access import classroom
    from cnn_core.access.classroom import owner_tag

    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "class-code-1")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "teacher-code-1")
    monkeypatch.setenv(classroom.Limits.ENV["saved_runs"], "2")
    for owner, role in (("alice", classroom.LEARNER), ("bob", classroom.LEARNER), ("teacher", classroom.TEACHER)):
        classroom.join(owner, role, owner)
    definition = SweepDefinition(DATA, ArchChoice("tutorial-minimal"), TrainConfig(epochs=1),
                                 (parse_param("learning_rate=0.001,0.003,0.01"),), search="grid")  # fmt: skip
    store = RunStore()
    sweep = sweeps.create(store, definition, owner_tag("alice"))
    driver = SweepDriver(sweep, "alice", digits, store, JobRegistry(max_running=1))
    assert driver.run() == "paused"
    assert "class limit is 2" in driver.message and "resume the sweep when there is room" in driver.message
    assert [r.state for r in study.trial_rows(sweep, store)] == ["complete", "complete"]
    assert {r.owner for r in store.list_runs()} == {owner_tag("alice")}
    assert [s.sweep_id for s in sweeps.list_sweeps(store, viewer="bob")] == []
    assert [s.sweep_id for s in sweeps.list_sweeps(store, viewer="teacher")] == [sweep.sweep_id]
    monkeypatch.setenv(classroom.Limits.ENV["saved_runs"], "5")
    again = SweepDriver(sweeps.load(store, sweep.sweep_id), "alice", digits, store, JobRegistry(max_running=1))
    assert again.run() == "completed"
    rows = study.trial_rows(sweep, store)
    assert [r.params["learning_rate"] for r in rows] == [0.001, 0.003, 0.01] and len(store.list_runs()) == 3


def test_a_trial_paused_outside_the_sweep_leaves_the_sweep_paused_not_complete(digits):
    driver, store = drive(digits, ["dropout=0.2"], epochs=EPOCHS)
    driver.thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(t.reported for t in list(driver.running.values())):
        time.sleep(0.05)
    (trial,) = driver.running.values()
    trial.job.pause("cli")  # as the Train or Teacher page would
    driver.wait(120)
    assert driver.status == "paused" and driver.message == "trial 0 did not finish; resume the sweep to finish it"
    again = SweepDriver(sweeps.load(store, driver.sweep.sweep_id), "cli", digits, store, JobRegistry(max_running=1))
    assert again.run() == "completed"
    assert [r.state for r in study.trial_rows(again.sweep, store)] == ["complete"] and len(store.list_runs()) == 1


def test_the_command_line_makes_no_sweep_for_data_it_cannot_load_and_resumes_only_its_own(workspace, capsys):
    from cnn_core.cli import main

    runs = workspace / "runs"
    nowhere = f"folder:{workspace / 'nowhere'}"
    assert main(["sweep", "--dataset", nowhere, "--param", "dropout=0.1,0.5", "--runs-dir", str(runs)]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert sweeps.list_sweeps(RunStore(runs)) == []  # no sweep left "queued" for ever
    definition = SweepDefinition(DATA, ArchChoice("tutorial-minimal"), TrainConfig(epochs=1), (parse_param("dropout=0.1,0.5"),))
    browser = sweeps.create(RunStore(runs), definition, "0123456789abcdef")  # a browser session's owner tag
    browser.set_status("paused", "paused by request")
    assert main(["sweep", "--resume", browser.sweep_id, "--runs-dir", str(runs)]) == 2
    assert "resume it there, by its owner" in capsys.readouterr().err
    assert RunStore(runs).list_runs() == []  # no trial trained as "cli"


def test_a_trial_the_sweep_may_not_stop_does_not_fail_the_sweep(digits, monkeypatch):
    from cnn_core.access import classroom
    from cnn_core.sweeps.trials import Trial

    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "class-code-1")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "teacher-code-1")
    for owner in ("alice", "bob"):
        classroom.join(owner, classroom.LEARNER, owner)
    registry = JobRegistry(max_running=1)
    job = registry.submit(digits, ArchChoice("tutorial-minimal"), TrainConfig(epochs=1000), "alice", RunStore(), alongside=True)
    driver, _ = drive(digits, ["dropout=0.2"])
    driver.owner = "bob"  # a trial's job that this sweep's owner does not control
    driver.running[0] = Trial(None, job)
    driver._time_up(1)  # raised StudioError before, which failed the sweep and stopped every trial
    assert job.active
    job.stop("alice")
    job.wait(60)
