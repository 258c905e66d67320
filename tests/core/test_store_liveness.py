"""The run store's safety: liveness that survives a reused pid, updates that lose nothing, owners."""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from cnn_core.errors import StudioError
from cnn_core.runs import liveness
from cnn_core.runs.store import RunStore, owner_tag, read_json, update_config
from tests.conftest import ROOT


def running_status(run, **fields):
    status = json.loads((run / "status.json").read_text()) | {"status": "running", **fields}
    (run / "status.json").write_text(json.dumps(status))


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="start times come from /proc")
def test_a_live_pid_with_another_start_time_is_a_restarted_server(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({}, "a")
    me = liveness.identity()
    running_status(run, pid=os.getpid(), pid_start=me["pid_start"] + 12345, boot_id=me["boot_id"])
    assert store.info(run).status == "interrupted"
    running_status(run, pid=os.getpid(), pid_start=me["pid_start"], boot_id=me["boot_id"])
    assert store.info(run).status == "running"
    running_status(run, pid=os.getpid(), pid_start=me["pid_start"], boot_id="an-earlier-boot")
    assert store.info(run).status == "interrupted"


def test_set_status_records_the_process_identity(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({}, "a")
    store.set_status(run, "running")
    status = store.status(run)
    assert status["pid"] == os.getpid() and status.get("pid_start") == liveness.start_time(os.getpid())
    assert store.info(run).status == "running"


def test_a_killed_process_leaves_its_run_interrupted(tmp_path):
    """A real process marks a run running, then is killed: nothing else is faked."""
    store = RunStore(tmp_path / "runs")
    run = store.new_run({}, "a")
    code = (
        "import sys, time; from pathlib import Path; from cnn_core.runs.store import RunStore; "
        "RunStore(sys.argv[1]).set_status(Path(sys.argv[2]), 'running'); print('marked', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(store.root), str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "marked"
        assert store.info(run).status == "running" and store.status(run)["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert store.info(run).status == "interrupted"


def test_threads_updating_status_and_config_lose_nothing(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({}, "a")
    threads, rounds = 8, 25

    def hammer(n):
        for i in range(rounds):
            store.set_status(run, "running", **{f"status-{n}-{i}": i})
            update_config(run, **{f"config-{n}-{i}": i})

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    status, config = store.status(run), read_json(run / "config.json")
    assert sum(k.startswith("status-") for k in status) == threads * rounds
    assert sum(k.startswith("config-") for k in config) == threads * rounds
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


def test_two_processes_updating_config_lose_nothing(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({}, "a")
    code = (
        "import sys; from pathlib import Path; from cnn_core.runs.store import update_config\n"
        "for i in range(40): update_config(Path(sys.argv[1]), **{f'{sys.argv[2]}-{i}': i})"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(run), name], cwd=ROOT) for name in ("p", "q")]
    assert [p.wait(120) for p in procs] == [0, 0]
    config = read_json(run / "config.json")
    assert sum(k.startswith(("p-", "q-")) for k in config) == 80


def test_only_the_owner_deletes_or_renames_when_the_page_says_who_asks(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({"owner": owner_tag("alice")}, "a")
    store.set_status(run, "completed")
    with pytest.raises(StudioError, match="only its owner can rename"):
        store.rename(run, "bob", "mine now")
    with pytest.raises(StudioError, match="only its owner can delete"):
        store.delete(run, owner="bob")
    store.rename(run, "alice", " best ", "note")
    assert read_json(run / "config.json")["name"] == "best"
    store.delete(run, owner="alice")
    assert not run.exists()
    cli_run = store.new_run({"owner": "cli"}, "b")
    store.set_status(cli_run, "completed")
    with pytest.raises(StudioError, match="the command line"):
        store.delete(cli_run, owner="alice")
    store.delete(cli_run)  # the command line itself passes no owner
    assert not cli_run.exists()


def test_a_damaged_folder_without_an_owner_may_be_deleted_in_personal_mode(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run({}, "a")
    store.set_status(run, "failed")
    (run / "config.json").write_text('{"run_id": "x", "crea')  # damaged: its owner cannot be read
    store.delete(run, owner="bob")
    assert not run.exists()
