"""The run store: atomic files, and a list that survives damaged and interrupted runs."""

import json
import os
import subprocess
import sys

from cnn_core.runs.store import RunStore, atomic_write


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_new_run_lists_as_queued_then_completed(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({"dataset": {"name": "d"}, "architecture": {"name": "a", "params": 10}, "train": {"epochs": 2}}, "a")
    assert store.list_runs()[0].status == "queued"
    store.set_status(run, "running")
    store.write_history(run, [{"epoch": 1, "loss": 0.5, "val_accuracy": 0.8}, {"epoch": 2, "loss": 0.4, "val_accuracy": 0.9}])
    store.write_metrics(run, {"test_accuracy": 0.85, "test_loss": 0.4})
    store.set_status(run, "completed")
    info = store.list_runs()[0]
    assert (info.status, info.epochs_done, info.best_val_accuracy, info.test_accuracy) == ("completed", 2, 0.9, 0.85)
    assert info.duration is not None and info.params == 10


def test_running_run_of_a_dead_process_is_interrupted(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({}, "a")
    status = json.loads((run / "status.json").read_text()) | {"status": "running", "pid": dead_pid()}
    (run / "status.json").write_text(json.dumps(status))
    assert store.list_runs()[0].status == "interrupted"


def test_damaged_folders_become_damaged_entries_not_errors(tmp_path):
    store = RunStore(tmp_path / "runs")
    good = store.new_run({}, "good")
    (tmp_path / "runs" / "no-config").mkdir()
    truncated = store.new_run({}, "trunc")
    (truncated / "config.json").write_text('{"run_id": "x", "crea')
    bad_status = store.new_run({}, "badstatus")
    (bad_status / "status.json").write_bytes(b"\x00\xff")
    bad_metrics = store.new_run({}, "badmetrics")
    (bad_metrics / "metrics.json").write_text("[1, 2]")
    (tmp_path / "runs" / ".hidden-partial").mkdir()
    runs = {r.run_id: r.status for r in store.list_runs()}
    assert runs[good.name] == "queued" and runs["no-config"] == "damaged" and runs[truncated.name] == "damaged"
    assert runs[bad_status.name] == "damaged" and runs[bad_metrics.name] == "damaged"
    assert ".hidden-partial" not in runs


def test_atomic_write_never_leaves_half_a_file(tmp_path):
    target = tmp_path / "history.csv"
    atomic_write(target, "old")
    temp_files_before = set(os.listdir(tmp_path))
    atomic_write(target, "new content")
    assert target.read_text() == "new content" and set(os.listdir(tmp_path)) == temp_files_before
