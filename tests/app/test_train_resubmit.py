"""AppTest: a second Train press while this browser's run is queued or training shows that run."""

import time

import pytest

from cnn_core.jobs.registry import JOBS
from tests.app import test_train_page
from tests.app.helpers import open_page

pytestmark = pytest.mark.slow
# the most epochs allowed: still training after three reruns on a busy machine (300 finished once)
TINY = {**test_train_page.TINY, "train_config": {"epochs": 1000, "batch_size": 4}}


def test_a_page_that_lost_track_of_its_run_shows_it_again_on_train():
    at = open_page("train", session=TINY)
    next(b for b in at.button if b.label == "Train").click().run(timeout=120)
    job = JOBS.get(at.session_state["train_job"])
    try:
        assert job.active
        at.session_state["train_job"] = None  # a rerun cut short before it recorded the job it started
        at.query_params.pop("run", None)
        next(b for b in at.button if b.label == "Train").click().run(timeout=120)
        assert not at.exception and not at.error
        assert at.session_state["train_job"] == job.run_id
        assert any(h.value == f"Run {job.run_id}" for h in at.subheader)
        assert [r.run_id for r in JOBS.active_for(job.owner)] == [job.run_id]
        at.session_state["train_job"] = None  # cut short again; this time the page only reruns
        at.query_params.pop("run", None)
        at.run(timeout=120)
        assert any(h.value == f"Run {job.run_id}" for h in at.subheader)
        assert at.query_params.get("run") == job.run_id  # the address names the run again: a reload finds it
    finally:
        job.stop(job.owner)
        job.wait(120)
    assert job.status == "stopped"


def test_a_learner_queues_up_to_the_class_limit_then_is_told_it(monkeypatch):
    from cnn_core.access import classroom

    learner = "d" * 32
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "class-code-for-tests")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "teacher-code-for-tests")
    monkeypatch.setenv("CNN_STUDIO_LEARNER_QUEUED_RUNS", "1")
    classroom.join(learner, classroom.LEARNER, "Di")
    at = open_page("train", session={**TINY, "owner": learner})
    jobs = []
    try:
        for epochs in (998, 999):  # near the most allowed, and not the same request twice
            at.number_input(key="train.epochs").set_value(epochs)
            next(b for b in at.button if b.label == "Train").click().run(timeout=120)
            assert not at.exception and not at.error
            jobs.append(JOBS.get(at.session_state["train_job"]))
        deadline = time.time() + 120
        while jobs[0].status != "running" and time.time() < deadline:
            time.sleep(0.1)
        assert [j.status for j in JOBS.active_for(learner)] == ["running", "queued"]
        at.run(timeout=120)  # the page shows the second run: it waits for the learner's own first run, not a slot
        assert any(f"Waiting for your run {jobs[0].run_id} to finish" in i.value for i in at.info), [i.value for i in at.info]
        at.number_input(key="train.epochs").set_value(1000)
        next(b for b in at.button if b.label == "Train").click().run(timeout=120)
        assert (
            "you already have 1 run waiting, and the class allows at most 1 queued run: wait for it to start, or cancel it"
            in at.error[0].value
        )
        assert any(h.value == f"Run {jobs[1].run_id}" for h in at.subheader)  # the message, then the run in the way
        assert len(JOBS.active_for(learner)) == 2
    finally:
        for job in jobs:
            job.stop(learner)
        for job in jobs:
            job.wait(120)
