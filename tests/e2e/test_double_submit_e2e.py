"""Chromium: Enter in the Epochs box submits the Train form, then a click on Train submits it again.

The second submit arrives while the first one's script run is still starting the job (the first
run loads TensorFlow). The page must show the one run that was started, live, and no error.
"""

import json

import pytest

from tests.e2e.helpers import LONG_EPOCHS, assert_no_exception, run_folders, runs_since, wait_for_batches, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py)."""
    return shared_server


def test_enter_in_epochs_then_train_shows_the_one_run(page, server):
    before = run_folders(server)
    page.goto(f"{server.url}/train")
    wait_ready(page, "Keras MNIST convnet")
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill(LONG_EPOCHS)
    epochs.press("Enter")  # submits the form
    page.get_by_role("button", name="Train", exact=True).click(force=True, timeout=5_000)  # and again
    page.get_by_role("button", name="Stop training").wait_for(timeout=120_000)
    wait_for_batches(page, 3)
    assert_no_exception(page)
    for error in ("still queued", "still running", "stop it or wait"):
        assert page.get_by_text(error).count() == 0, error
    runs = runs_since(server, before)
    assert len(runs) == 1 and f"run={runs[0].name}" in page.url
    page.get_by_role("button", name="Stop training").click()
    page.get_by_text("Training stopped").wait_for(timeout=120_000)
    assert json.loads((runs[0] / "status.json").read_text())["status"] == "stopped"
    assert_no_exception(page)
