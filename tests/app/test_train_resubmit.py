"""AppTest: a second Train press while this browser's run is queued or training shows that run."""

import pytest

from cnn_core.jobs import JOBS
from tests.app.helpers import open_page

pytestmark = pytest.mark.slow
TINY = {
    "data_config": {"dataset_id": "shapes", "limit": 100, "image_size": 16},
    "arch_choice": {"preset": "tutorial-minimal"},
    "train_config": {"epochs": 300, "batch_size": 4},
}


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
    finally:
        job.stop(job.owner)
        job.wait(120)
    assert job.status == "stopped"
