"""Chromium: each finding of the diagnosis shown on a real run, and a suggestion applied with one click."""

import pytest

from cnn_core.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.datasets import load_dataset
from cnn_core.runs import RunStore
from cnn_core.training import run_config, run_training
from tests.conftest import make_class_folder
from tests.e2e.conftest import Server
from tests.e2e.helpers import assert_no_exception, choose, wait_ready

pytestmark = pytest.mark.e2e

SCENARIOS = {  # a real short run built to show each pattern (the same as tests/core/test_diagnosis.py)
    "Overfitting": (DataConfig("mnist-5k", limit=400), "keras-mnist", dict(epochs=25, batch_size=32)),
    "Not learning": (DataConfig("mnist-5k", limit=2000), "keras-mnist", dict(epochs=3, learning_rate=1e-5)),
    "Learning slowly": (DataConfig("mnist-5k"), "keras-mnist", dict(epochs=5, learning_rate=2e-5)),
    "Underfitting": (DataConfig("shapes", limit=1000, image_size=32), "tutorial-minimal", dict(epochs=8, batch_size=32)),
    "Early stopping ended training": (
        DataConfig("mnist-5k", limit=400), "keras-mnist", dict(epochs=25, batch_size=32, early_stopping=True, patience=2),
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("diagnosed")
    store, names = RunStore(workdir / "runs"), {}
    folder = make_class_folder(workdir / "pets", {"cat": 60, "dog": 12})
    scenarios = {
        **SCENARIOS,
        "Class imbalance": (DataConfig(f"folder:{folder}"), "tutorial-minimal", dict(epochs=1, batch_size=16)),
    }
    for title, (data, arch, settings) in scenarios.items():
        dataset, config, choice = load_dataset(data), TrainConfig(**settings), ArchChoice(arch)
        names[title] = run_training(
            dataset, choice, config, store.new_run(run_config(dataset, choice, config), arch), store
        ).run_dir.name
    server = Server(workdir).start()
    yield server, names
    server.stop()


def test_each_finding_shows_on_its_run(browser, diagnosed):
    server, names = diagnosed
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{server.url}/evaluate")
        wait_ready(page, "Confusion matrix")
        for title, run_id in names.items():
            choose(page, "Model", run_id)
            wait_ready(page, "Confusion matrix")
            page.locator("summary").filter(has_text="What the training curves say").click()
            page.get_by_text(title, exact=False).first.wait_for()
            assert page.get_by_text("Try:").count() >= 1
            page.locator("summary").filter(has_text="What the training curves say").click()
        assert_no_exception(page)
    finally:
        page.close()


def test_a_diverging_run_live_and_its_suggestion_applied(page, server):
    page.goto(f"{server.url}/train?data=shapes&size=16&limit=200&arch=lenet-dropout&batch=16&epochs=3&lr=1")
    wait_ready(page, "LeNet-style")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Training failed").wait_for(timeout=120_000)
    page.get_by_text("Diverging: the learning rate is too high").first.wait_for()
    page.locator(".js-plotly-plot .shapelayer path").first.wait_for(state="attached")  # the finding is marked on the chart
    page.get_by_role("button", name="Set learning rate to 0.1 for the next run").click()
    wait_ready(page, "Train")
    assert "lr=0.1" in page.url  # the setup now carries the suggested rate
    assert_no_exception(page)
