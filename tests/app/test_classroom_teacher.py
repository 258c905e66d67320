"""AppTest of the Teacher page: the class table shows the run each learner is training and their
queue, and the teacher publishes a learner's run from the picker for the rest of the class to see.

The learners, the teacher and their runs are set up as in test_classroom_visibility.py; the
table's runs are real tiny jobs in the server's own registry (`JOBS`, which the page reads).
"""

import re

import pytest

from cnn_core.access import classroom
from cnn_core.data.datasets import load_dataset
from cnn_core.jobs.registry import JOBS
from cnn_core.runs.store import read_json
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from tests.app import test_classroom_visibility as visibility
from tests.app.test_classroom_visibility import ADA, BO, RUN_A, RUN_B, TEACHER, open_as, table_runs
from tests.conftest import wait_until
from ui.classroom_view import TABLE_HEADER

pytestmark = pytest.mark.slow
classroom_mode, class_runs = visibility.classroom_mode, visibility.class_runs  # the same fixtures


def table_row(at, name: str) -> dict[str, str]:
    """The class table's cells for the member called `name`, by column title."""
    cells = [t.value for t in at.text]
    start = cells.index(name)
    return dict(zip(TABLE_HEADER, cells[start : start + len(TABLE_HEADER)]))


def test_the_class_table_shows_the_run_training_and_the_learners_queue(classroom_mode):
    classroom.join(ADA, classroom.LEARNER, "Ada")
    classroom.join(TEACHER, classroom.TEACHER, "Ms T")
    tiny, arch = load_dataset(DataConfig("shapes", limit=200, image_size=16)), ArchChoice("tutorial-minimal")
    training = JOBS.submit(tiny, arch, TrainConfig(epochs=500, batch_size=8), ADA)
    waiting = JOBS.submit(tiny, arch, TrainConfig(epochs=501, batch_size=8), ADA)  # Ada trains one run at a time
    try:
        wait_until(lambda: training.snapshot().history)  # an epoch done: an accuracy to show
        assert (training.status, waiting.status) == ("running", "queued")
        at = open_as(TEACHER, "teacher")
        row = table_row(at, "Ada")
        assert (row["Current run"], row["Status"]) == (training.run_id, "running")
        assert re.fullmatch(r"[1-9]\d*/500", row["Epoch"]), row
        assert re.fullmatch(r"\d{1,3}\.\d%", row["Accuracy"]), row
        assert row["Queue"] == "1 queued (next #1)"
        at.button(key=f"teacher.stop.{training.run_id}").click().run()  # Stop acts on the run the row shows
        assert not at.exception, at.exception
        assert training.stop_requested and not waiting.stop_requested
    finally:
        for job in (training, waiting):
            job.stop(ADA)
        for job in (training, waiting):
            job.wait(120)


def test_the_teacher_publishes_a_learners_run_and_another_learner_then_sees_it(class_runs):
    assert table_runs(open_as(BO, "runs")) == [RUN_B]
    at = open_as(TEACHER, "teacher")
    picker = at.selectbox(key="teacher.pick")
    assert f"{RUN_A} · Ada" in picker.options and f"{RUN_B} · Bo" in picker.options
    picker.set_value(RUN_A).run()
    published = at.toggle(key=f"teacher.published.{RUN_A}")
    assert published.value is False
    published.set_value(True).run()
    assert not at.exception, at.exception
    assert read_json(class_runs / RUN_A / "config.json")["published"] is True
    bo = open_as(BO, "runs")
    assert dict(zip(table_runs(bo), bo.dataframe[0].value["owner"])) == {RUN_A: "Ada · published to the class", RUN_B: "you"}

    at.toggle(key=f"teacher.published.{RUN_A}").set_value(False).run()  # taken back after the demo
    assert table_runs(open_as(BO, "runs")) == [RUN_B]
