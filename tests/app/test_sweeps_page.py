"""AppTest: a sweep defined and started on the Sweeps page trains its trials, fills the table,
and makes its best trial the current model; a bad value is refused with its reason; a sweep of
the command line is only watched."""

from __future__ import annotations

import pytest

from cnn_core.jobs.registry import JOBS
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps import definition as sweeps
from cnn_core.sweeps.definition import SweepDefinition
from cnn_core.sweeps.service import SWEEPS
from cnn_core.sweeps.space import parse_param
from tests.app.helpers import open_page

pytestmark = pytest.mark.slow
TINY = {
    "data_config": {"dataset_id": "digits", "limit": 150, "image_size": 16},
    "arch_choice": {"preset": "tutorial-minimal"},
    "train_config": {"epochs": 2},
}


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_a_sweep_started_on_the_page_fills_the_table_and_its_best_trial_becomes_the_current_model():
    at = open_page("sweeps", session=TINY)
    assert "No sweeps yet" in at.info[0].value
    at.text_input(key="sweeps.param.learning_rate").set_value("0.003,0.01")
    at.selectbox(key="sweeps.search").set_value("grid")
    button(at, "Start the sweep").click().run(timeout=120)
    assert not at.exception and not at.error, at.error
    (sweep_id,) = [s.sweep_id for s in sweeps.list_sweeps(RunStore())]
    driver = SWEEPS.get(sweep_id)
    driver.wait(180)
    assert driver.status == "completed", driver.message
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["state"]) == ["complete", "complete"] and list(table["learning_rate"]) == [0.003, 0.01]
    best = table.loc[table["val accuracy"].idxmax(), "run"]
    assert any("The best trial" in m.value for m in at.markdown)
    button(at, "Make the best trial the current model").click().run()
    assert at.session_state["current_run"] == best
    assert any("is the current model" in s.value for s in at.success)
    assert any(b.label == "Download the sweep's report (.html)" for b in at.get("download_button"))
    at.number_input(key=f"sweeps.more.{best}").set_value(1)
    button(at, "Train the best trial longer").click().run(timeout=120)  # its run, 1 more epoch, on the Train page
    assert not at.exception and not at.error
    assert at.session_state["train_job"] == best
    job = JOBS.get(best)
    job.wait(120)
    assert job.status == "completed" and len(RunStore().read_history(job.run_dir)) == 3


def test_a_value_out_of_range_is_refused_with_its_reason():
    at = open_page("sweeps", session=TINY)
    at.text_input(key="sweeps.param.learning_rate").set_value("0.01,20")
    button(at, "Start the sweep").click().run()
    assert not at.exception
    assert "learning rate must be above 0 to 10" in at.error[0].value
    assert sweeps.list_sweeps(RunStore()) == []


def test_a_sweep_of_the_command_line_is_watched_not_controlled():
    definition = SweepDefinition(
        DataConfig(**TINY["data_config"]), ArchChoice("tutorial-minimal"), TrainConfig(epochs=2),
        (parse_param("dropout=0.1,0.5"),), search="grid",
    )  # fmt: skip
    sweep = sweeps.create(RunStore(), definition, "cli")
    sweep.set_status("paused", "paused by request")
    at = open_page("sweeps", session=TINY)
    assert not at.exception
    assert any("you can watch it" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label in ("Resume", "Pause", "Stop")]
    assert any("No trial has run yet" in i.value for i in at.info)
