"""Sweeps without training: the varied settings as written on the command line, the definition's
checks, the sweep folder out of the Runs list, and who controls a sweep."""

from __future__ import annotations

import pytest

from cnn_core.access.classroom import owner_tag
from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps import definition as sweeps
from cnn_core.sweeps import study
from cnn_core.sweeps.definition import SweepDefinition
from cnn_core.sweeps.space import SweepParam, grid_size, parse_param


def test_a_list_and_a_log_range_are_read_and_checked_against_the_declaration():
    lr = parse_param("learning_rate=0.0003:0.01:log")
    assert (lr.low, lr.high, lr.log, lr.is_range) == (0.0003, 0.01, True, True)
    assert lr.grid() == [0.0003, 0.001732, 0.01]
    drop = parse_param("dropout=0.1,0.3,0.5")
    assert drop.values == (0.1, 0.3, 0.5) and drop.grid() == [0.1, 0.3, 0.5]
    assert parse_param("lr=0.001,0.01").name == "learning_rate"  # the link key names it too
    assert parse_param("batch-size=16:64:lin:4").grid() == [16, 32, 48, 64]
    assert parse_param("optimizer=adam,sgd").values == ("adam", "sgd")
    assert parse_param("dropout=none,0.5").values == (None, 0.5)
    assert grid_size([lr, drop]) == 9
    assert SweepParam.from_dict(lr.to_dict()) == lr and SweepParam.from_dict(drop.to_dict()) == drop
    assert parse_param(lr.text()) == lr


@pytest.mark.parametrize(
    "text, words",
    [
        ("learning_rate=0:0.01:log", "above 0"),  # the declaration's exclusive minimum
        ("dropout=0.1,0.95", "dropout rate must be from 0 to 0.9"),
        ("optimizer=adam,lbfgs", "must be one of adam, rmsprop, sgd"),
        ("optimizer=adam:sgd", "is a choice"),
        ("learning_rate=0.01:0.001", "from low to high"),
        ("epochs=1,2", "--epochs"),
        ("colour=1,2", "no setting 'colour' can be swept"),
        ("learning_rate", "name=a,b,c"),
        ("dropout=0.1,0.1", "listed twice"),
        ("batch_size=16.5,32", "not a whole number"),
        ("learning_rate=0.001:0.01:cubic", "low:high:log"),
        ("momentum=0.1:0.9:lin:99", "2 to 20 points"),
    ],
)
def test_a_setting_that_cannot_be_swept_is_refused_with_its_reason(text, words):
    with pytest.raises(StudioError, match=None) as caught:
        parse_param(text)
    assert words in str(caught.value)


def definition(**changes) -> SweepDefinition:
    base = dict(
        data=DataConfig(dataset_id="digits", limit=150, image_size=16),
        arch=ArchChoice("tutorial-minimal"),
        train=TrainConfig(epochs=2),
        params=(parse_param("learning_rate=0.001,0.003,0.01"),),
        trials=12,
        search="grid",
    )
    return SweepDefinition(**{**base, **changes})


def test_a_definition_round_trips_and_a_grid_caps_the_budget():
    d = definition()
    d.check()
    assert d.budget == 3  # a grid of 3 runs 3 trials, whatever the budget says
    assert definition(search="tpe").budget == 12
    assert SweepDefinition.from_dict(d.to_dict()) == d


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"params": ()}, "1 to 4 settings"),
        (
            {
                "params": tuple(
                    parse_param(t) for t in ("lr=0.1,0.2", "dropout=0.1,0.2", "momentum=0.1,0.2", "seed=1,2", "zoom=0,0.1")
                )
            },
            "1 to 4",
        ),
        ({"params": (parse_param("lr=0.1,0.2"), parse_param("learning_rate=0.3,0.4"))}, "swept twice"),
        ({"search": "bayes"}, "search must be one of grid, random, tpe"),
        ({"prune": "asha"}, "median or hyperband"),
        ({"trials": 0}, "1 to 200 trials"),
        ({"time_limit": -5.0}, "in minutes"),
        ({"data": DataConfig(dataset_id="digits", validation_fraction=0.0)}, "validation fraction above 0"),
        ({"arch": ArchChoice("no-such-net")}, "no-such-net"),
    ],
)
def test_a_definition_that_cannot_run_is_refused(changes, words):
    with pytest.raises(StudioError) as caught:
        definition(**changes).check()
    assert words in str(caught.value)


def test_a_sweep_folder_is_hidden_from_the_runs_list_and_found_by_its_id(workspace):
    store = RunStore()
    sweep = sweeps.create(store, definition(), "cli")
    assert sweep.folder.parent.name == ".sweeps" and (sweep.folder / "sweep.json").is_file()
    assert store.list_runs() == []
    assert sweeps.load(store, sweep.sweep_id).definition == definition()
    assert [s.sweep_id for s in sweeps.list_sweeps(store)] == [sweep.sweep_id]
    assert sweep.status()["status"] == "queued"
    for bad in ("../runs", "sweep-1", sweep.sweep_id + "/.."):
        with pytest.raises(StudioError, match="not a sweep id"):
            sweeps.load(store, bad)


def test_a_sweep_whose_process_is_gone_reads_as_interrupted(workspace):
    sweep = sweeps.create(RunStore(), definition(), "cli")
    sweep.set_status("running")
    assert sweep.status()["status"] == "running"  # this process is alive
    from cnn_core.runs.atomic import read_json, write_json

    status = read_json(sweep.folder / "status.json")
    write_json(sweep.folder / "status.json", {**status, "pid": 2**22 + 7, "pid_start": 1})
    assert sweep.status()["status"] == "interrupted"


def test_a_grid_study_tries_the_values_in_the_order_given(workspace):
    lr = parse_param("lr=0.01,0.001,0.003")
    opened = study.open_study(sweeps.create(RunStore(), definition(params=(lr,)), "cli"))
    asked = [opened.ask({"learning_rate": lr.distribution()}).params["learning_rate"] for _ in range(3)]
    assert asked == [0.01, 0.001, 0.003]


def test_only_the_sweeps_owner_controls_it(workspace):
    from cnn_core.sweeps.service import SweepService

    sweep = sweeps.create(RunStore(), definition(), owner_tag("alice"))
    assert sweep.controlled_by("alice") and not sweep.controlled_by("bob")
    with pytest.raises(StudioError, match="only its owner can resume it"):
        SweepService().resume(sweep.sweep_id, "bob", dataset=None)
