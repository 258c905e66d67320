"""Sweeps against damaged files and the wrong hands, without training: a hostile sweep.json is
refused as damaged, a damaged study.db is said (and looking makes none), a truncated grid of two
settings spreads over the first one's values, a dead queued sweep can be resumed, only the owner
resumes, a trial the pruner stopped stays pruned when its process died, a trial paused while still
queued leaves no empty run behind, and a stop by request reads "stopped", not "pruned"."""

from __future__ import annotations

import json

import pytest

from cnn_core.access import classroom
from cnn_core.access.classroom import owner_tag
from cnn_core.errors import StudioError
from cnn_core.jobs.registry import JobRegistry
from cnn_core.runs.atomic import read_json, write_json
from cnn_core.runs.schema import CONFIG_MAX_BYTES
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps import definition as sweeps
from cnn_core.sweeps import study
from cnn_core.sweeps.definition import SweepDefinition
from cnn_core.sweeps.driver import SweepDriver
from cnn_core.sweeps.service import SweepService
from cnn_core.sweeps.space import parse_param

HOSTILE = [
    {"params": [{"name": "learning_rate", "low": "a", "high": "b"}]},  # describe() would format "a" with :g
    {"search": "evil"},  # the report looks it up
    {"prune": "always"},
    {"time_limit": "x"},  # the driver compares it at resume
    {"trials": 10**6},
    {"params": "x"},
    {"data": {"dataset_id": "nope"}},  # a resume would load it
    {"arch": {"preset": "no-such-arch"}},
    {"train": {"epochs": -3}},
    {"params": [{"nothing": 1}]},
    {"trials": "many"},
    {"params": "lr"},
]


def definition(**changes) -> SweepDefinition:
    fields = {"params": (parse_param("learning_rate=0.001,0.01"),), "search": "grid", **changes}
    return SweepDefinition(DataConfig(dataset_id="digits"), ArchChoice("tutorial-minimal"), TrainConfig(epochs=2), **fields)


@pytest.mark.parametrize("damage", HOSTILE, ids=lambda d: next(iter(d)))
def test_a_hostile_sweep_json_is_refused_as_damaged_and_left_out_of_the_list(workspace, damage):
    store = RunStore()
    sweep = sweeps.create(store, definition(), "cli")
    write_json(sweep.folder / "sweep.json", {**read_json(sweep.folder / "sweep.json"), **damage})
    with pytest.raises(StudioError, match=f"sweep {sweep.sweep_id} is damaged"):
        sweeps.load(store, sweep.sweep_id)
    assert sweeps.list_sweeps(store) == []


def test_an_oversized_sweep_json_is_refused_before_it_is_read(workspace):
    store = RunStore()
    sweep = sweeps.create(store, definition(), "cli")
    data = read_json(sweep.folder / "sweep.json")
    (sweep.folder / "sweep.json").write_text(json.dumps({**data, "name": "x" * CONFIG_MAX_BYTES}))
    with pytest.raises(StudioError, match="the limit is"):
        sweeps.load(store, sweep.sweep_id)


def test_a_damaged_study_db_is_said_and_looking_at_a_new_sweep_makes_no_file(workspace):
    store = RunStore()
    sweep = sweeps.create(store, definition(), "cli")
    assert study.trial_rows(sweep, store) == [] and study.importances(sweep) == {}
    assert not (sweep.folder / "study.db").exists()  # a watcher's look creates nothing
    (sweep.folder / "study.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StudioError, match="study.db is damaged"):
        study.trial_rows(sweep, store)


def test_a_truncated_grid_of_two_settings_spreads_over_the_first_settings_values(workspace):
    lr, drop = parse_param("learning_rate=0.001,0.003,0.01"), parse_param("dropout=0.1,0.3,0.5")
    sweep = sweeps.create(RunStore(), definition(params=(lr, drop), trials=3), "cli")
    opened = study.open_study(sweep)
    space = {p.name: p.distribution() for p in (lr, drop)}
    asked = [opened.ask(space).params for _ in range(9)]
    assert len({a["learning_rate"] for a in asked[:3]}) > 1  # lr=0.001 three times before the fix
    assert sorted((a["learning_rate"], a["dropout"]) for a in asked) == sorted(
        (a, b) for a in lr.grid() for b in drop.grid()
    )  # every combination, once


def test_a_dead_queued_sweep_reads_interrupted_so_it_can_be_resumed(workspace):
    sweep = sweeps.create(RunStore(), definition(), "cli")
    assert sweep.status()["status"] == "queued"  # this process is alive
    status = read_json(sweep.folder / "status.json")
    write_json(sweep.folder / "status.json", {**status, "pid": 2**22 + 7, "pid_start": 1})
    assert sweep.status()["status"] == "interrupted"


def test_only_the_session_that_started_a_sweep_resumes_it(workspace, monkeypatch):
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "class-code-1")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "teacher-code-1")
    classroom.join("alice", classroom.LEARNER, "alice")
    classroom.join("teacher", classroom.TEACHER, "teacher")
    store = RunStore()
    sweep = sweeps.create(store, definition(), owner_tag("alice"))
    sweep.set_status("paused", "paused by request")
    service = SweepService(JobRegistry(max_running=1))
    assert sweep.controlled_by("teacher")  # the teacher keeps Pause and Stop
    with pytest.raises(StudioError, match="only that session can resume it"):
        service.resume(sweep.sweep_id, "teacher", None, store)
    with pytest.raises(StudioError, match="only its owner can resume it"):
        service.resume(sweep.sweep_id, "bob", None, store)
    assert service.drivers == {}


def test_a_learners_sweep_asks_no_trial_past_the_queue_limit_while_one_of_its_trials_waits(workspace, monkeypatch):
    """Every slot busy: a third trial would be refused at the queue limit and pause the sweep, so it
    is asked later instead. With none of its trials in the queue, a refusal still pauses it, with the reason."""
    from contextlib import ExitStack

    from cnn_core.data.datasets import load_dataset

    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "class-code-1")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "teacher-code-1")
    monkeypatch.setenv("CNN_STUDIO_LEARNER_QUEUED_RUNS", "2")
    classroom.join("alice", classroom.LEARNER, "alice")
    store, registry = RunStore(), JobRegistry(max_running=2)
    sweep = sweeps.create(store, definition(), owner_tag("alice"))
    driver = SweepDriver(sweep, "alice", load_dataset(DataConfig("digits")), store, registry)
    assert driver._room()  # nothing of the sweep's is running: a refusal would say why
    with ExitStack() as held:
        for _ in range(registry.max_running):
            held.enter_context(registry.slot())
        jobs = [registry.submit(driver.dataset, ArchChoice("tutorial-minimal"), TrainConfig(epochs=1, seed=s), "alice", store)
                for s in (1, 2)]  # fmt: skip
        try:
            driver.running = {0: jobs[0]}
            assert [j.status for j in jobs] == ["queued", "queued"] and not driver._room()
            jobs[1].cancel("alice")
            assert driver._room()  # one waits, and the class allows two
        finally:
            for job in jobs:
                job.cancel("alice")


def open_trial(store: RunStore, sweep, run_status: str, **attrs):
    """A trial left open by a process that died, with a run folder (no epochs) in `run_status`."""
    run = store.new_run({"owner": "cli"}, "tutorial-minimal")
    store.set_status(run, run_status)
    opened = study.open_study(sweep)
    trial = opened.ask({p.name: p.distribution() for p in sweep.definition.params})
    trial.set_user_attr("run_id", run.name)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return run, trial


def test_a_pruned_trial_whose_process_died_is_told_pruned_not_trained_on(workspace):
    store = RunStore()
    sweep = sweeps.create(store, definition(search="random", trials=1), "cli")
    run, _ = open_trial(store, sweep, "interrupted", pruned_epoch=2, message="pruned after epoch 2: behind")
    registry = JobRegistry(max_running=1)
    driver = SweepDriver(sweep, "cli", None, store, registry)
    assert driver.run() == "completed", driver.message
    (row,) = study.trial_rows(sweep, store)
    assert (row.state, row.run_id, row.message) == ("pruned", run.name, "pruned after epoch 2: behind")
    assert registry.get(run.name) is None  # not resumed


def test_a_trial_paused_while_queued_leaves_no_empty_run_behind(workspace):
    store = RunStore()
    sweep = sweeps.create(store, definition(search="random", trials=1), "cli")
    run, _ = open_trial(store, sweep, "paused")
    driver = SweepDriver(sweep, "cli", None, store, JobRegistry(max_running=1))
    driver.pause()  # adopt the open trial, start nothing new
    assert driver.run() == "paused"
    assert not run.exists() and store.list_runs() == []  # no orphan on Runs, none counted against saved runs
    assert study.trial_rows(sweep, store) == []  # lost: its settings wait to be tried again
    waiting = study.open_study(sweep).get_trials(deepcopy=False)
    assert [t.state.name for t in waiting] == ["FAIL", "WAITING"]


def test_an_open_trial_reads_paused_and_a_stop_by_request_reads_stopped(workspace):
    store = RunStore()
    sweep = sweeps.create(store, definition(search="random", trials=2), "cli")
    run, trial = open_trial(store, sweep, "completed")
    assert [r.state for r in study.trial_rows(sweep, store)] == ["paused"]  # open: settled when the sweep resumes
    driver = SweepDriver(sweep, "cli", None, store, JobRegistry(max_running=1))
    opened = study.open_study(sweep)
    driver._tell(opened, trial, "stopped", "stopped with the sweep", [0.5])
    second = opened.ask({p.name: p.distribution() for p in sweep.definition.params})
    driver._tell(opened, second, "stopped", "", [0.5], "pruned after epoch 1: behind")
    rows = study.trial_rows(sweep, store)
    assert [r.state for r in rows] == ["stopped", "pruned"]
    assert rows[0].message == "stopped with the sweep"
    assert "1 pruned" in study.summary(sweep, store) and "1 stopped" in study.summary(sweep, store)


def test_a_run_id_from_the_study_that_is_not_one_is_not_joined_into_a_path(workspace):
    store = RunStore()
    sweep = sweeps.create(store, definition(search="random", trials=1), "cli")
    opened = study.open_study(sweep)
    trial = opened.ask({p.name: p.distribution() for p in sweep.definition.params})
    trial.set_user_attr("run_id", "../../etc")
    (row,) = study.trial_rows(sweep, store)
    assert row.run_id == ""
