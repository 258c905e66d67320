"""Chromium: the hostile corpus uploaded through the app's own upload widgets. A clear message for
each, never a traceback, and the app keeps serving."""

import pytest

from tests.e2e.helpers import assert_no_exception, choose, wait_ready
from tests.hostile import dataset_zips, model_files, predict_uploads
from tests.trained import copy_runs

pytestmark = pytest.mark.e2e
UPLOAD = "[data-testid=stFileUploader] input[type=file]"
ERROR = "[data-testid=stAlertContentError]"


@pytest.fixture(scope="module")
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py): Predict shows the newest model, the one
    imported last below."""
    return shared_server


def expect_outcome(page, ok_locator, refusal: str) -> None:
    """Wait for this upload's own result: `ok_locator`, or an error box that says `refusal`.
    (A check for "any error box" could read the previous upload's message before the page reruns.)"""
    if refusal == "ok":
        ok_locator.first.wait_for(timeout=120_000)
    else:
        page.locator(ERROR).filter(has_text=refusal).first.wait_for(timeout=120_000)
    wait_ready(page)
    if refusal == "ok":
        assert page.locator(ERROR).count() == 0


def test_dataset_zips_on_the_data_page(page, server, tmp_path):
    page.goto(server.url)
    wait_ready(page, "Handwritten digits 0-9")
    choose(page, "Dataset", "Your own images")
    wait_ready(page, "Upload a zip")
    for path, expected in dataset_zips(tmp_path / "zips").values():
        page.locator(UPLOAD).set_input_files(str(path))
        expect_outcome(page, page.get_by_role("heading", name=path.stem, exact=True), expected)
        assert_no_exception(page)
    assert not list(server.workdir.parent.rglob("evil.png"))


def test_models_on_the_runs_page_and_images_on_the_predict_page(page, server, tmp_path, trained_runs):
    (run,) = copy_runs(trained_runs, server.workdir / "runs")
    page.goto(server.url)
    wait_ready(page, "Handwritten digits 0-9")
    choose(page, "Dataset", "Shapes")  # the imported model must fit shapes at 16x16: set size and limit
    wait_ready(page, "32 × 32 × 3")
    page.get_by_text("Splits and image format").click()
    page.get_by_label("Image size (0: keep the data's own size)", exact=True).fill("16")
    page.keyboard.press("Enter")
    wait_ready(page, "16 × 16 × 3")
    page.goto(f"{server.url}/runs?data=shapes&size=16")
    wait_ready(page, "Import a model")
    page.get_by_text("Import a model (.keras) or a run (.zip)").click()
    for path, reason in model_files(tmp_path / "models", run / "model.keras").values():
        page.locator(UPLOAD).set_input_files(str(path))
        refusal = reason if reason == "ok" else f"{path.name} was not imported"
        expect_outcome(page, page.get_by_text(f"Imported {path.name}"), refusal)
        if reason != "ok":
            assert reason in page.locator(ERROR).filter(has_text=refusal).first.inner_text()
        assert_no_exception(page)

    page.goto(f"{server.url}/predict")
    wait_ready(page, "Give an image to classify")
    for path, expected in predict_uploads(tmp_path / "uploads").values():
        page.locator(UPLOAD).set_input_files(str(path))
        expect_outcome(page, page.get_by_text("what the model sees"), expected)
        assert_no_exception(page)
