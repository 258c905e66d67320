"""AppTest: a tiny training run through the Train page, and its refusals."""

import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.jobs.registry import JOBS
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import DataConfig
from tests.app.helpers import metric, open_page

pytestmark = pytest.mark.slow
TINY = {
    "data_config": {"dataset_id": "shapes", "limit": 100, "image_size": 16},
    "arch_choice": {"preset": "tutorial-minimal"},
    "train_config": {"epochs": 2, "batch_size": 16},
}


def test_tiny_training_run_through_the_page():
    at = open_page("train", session=TINY)
    assert "Minimal CNN" in at.markdown[0].value
    next(b for b in at.button if b.label == "Train").click().run(timeout=120)
    assert not at.exception and not at.error
    job = JOBS.get(at.session_state["train_job"])
    job.wait(120)
    at.run()
    assert not at.exception
    assert any("Training completed" in s.value for s in at.success)
    assert metric(at, "Test accuracy").endswith("%")
    assert at.session_state["current_run"] == job.run_id
    assert (job.run_dir / "model.keras").is_file()


def test_a_second_train_press_while_one_trains_shows_that_run():
    at = open_page("train", session={**TINY, "train_config": {"epochs": 1000, "batch_size": 4}})
    next(b for b in at.button if b.label == "Train").click().run(timeout=120)
    job = JOBS.get(at.session_state["train_job"])
    try:
        assert job.active
        at.session_state["train_job"] = None  # as if the page lost track of it: the registry gives the run back
        at.query_params.pop("run", None)
        next(b for b in at.button if b.label == "Train").click().run(timeout=120)
        assert not at.exception and not at.error
        assert at.session_state["train_job"] == job.run_id
        assert [r.run_id for r in RunStore().list_runs()] == [job.run_id]  # one run, not two
    finally:
        job.stop(job.owner)
        job.wait(120)
    assert job.status == "stopped"


def test_a_model_that_does_not_fit_is_explained_before_training():
    at = open_page("train", session={**TINY, "arch_choice": {"preset": "keras-mnist"}})
    assert not at.exception and "Cannot train" in at.error[0].value


def test_the_validation_fraction_set_here_reaches_the_data_and_the_run():
    at = open_page("train", session=TINY)
    at.slider(key="train.validation_fraction").set_value(0.2)  # inside the form: sent with the submit
    next(b for b in at.button if b.label == "Train").click().run(timeout=120)
    assert not at.exception and at.session_state["data_config"]["validation_fraction"] == 0.2
    job = JOBS.get(at.session_state["train_job"])
    job.wait(120)
    assert job.store.info(job.run_dir).status == "completed"
    data = read_json(job.run_dir / "config.json")["data"]
    assert len(load_dataset(DataConfig.from_dict(data)).validation) == 20  # 20 % of 100 shapes
    assert job.store.info(job.run_dir).status == "completed"


def test_a_presets_recommended_settings_apply_in_one_click():
    at = open_page("train", session={**TINY, "arch_choice": {"preset": "fashion-cnn"}})
    assert any("was designed to train with" in i.value and "Measured: with these settings" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Use these settings").click().run(timeout=60)
    assert not at.exception
    recommended = {"epochs": 12, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.003, "schedule": "one-cycle"}
    assert {k: at.session_state["train_config"][k] for k in recommended} == recommended
    assert at.number_input(key="train.epochs").value == 12  # the form shows them
    assert not any("was designed to train with" in i.value for i in at.info)  # nothing left to apply


def test_an_unreachable_ray_cluster_is_said_on_the_page_and_training_refused(monkeypatch):
    from cnn_core.jobs.cluster import free_port

    monkeypatch.setenv("CNN_STUDIO_RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    at = open_page("train", session=TINY)
    assert any("cannot be reached" in w.value and "New runs cannot start" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Train").click().run(timeout=120)
    assert not at.exception
    assert any("cannot be reached" in e.value for e in at.error)
    assert "train_job" not in at.session_state  # no job, no run
