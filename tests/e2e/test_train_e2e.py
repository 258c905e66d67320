"""Chromium: train, watch the chart grow, leave and come back while it runs, stop, find the run saved."""

import json

import pytest

from tests.e2e.helpers import (
    LONG_EPOCHS,
    assert_no_exception,
    batches_shown,
    go_to,
    run_folders,
    runs_since,
    wait_for_batches,
    wait_ready,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py)."""
    return shared_server


TRACES = "() => Math.max(0, ...[...document.querySelectorAll('.js-plotly-plot')].map(g => g.data ? g.data.length : 0))"


def test_train_watch_leave_return_stop(page, server):
    before = run_folders(server)
    page.goto(f"{server.url}/train")
    wait_ready(page, "Keras MNIST convnet")
    page.get_by_label("Epochs", exact=True).fill(LONG_EPOCHS)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Stop training").wait_for(timeout=120_000)
    wait_for_batches(page, 6)
    first = batches_shown(page)
    wait_for_batches(page, first + 5, 60_000)  # batches keep arriving
    assert page.evaluate(TRACES) >= 4  # each curve's band and trend, and the epoch points
    assert "run=" in page.url

    go_to(page, "Data")
    wait_ready(page, "Handwritten digits 0-9")
    go_to(page, "Train")
    page.get_by_role("button", name="Stop training").wait_for(timeout=30_000)
    page.get_by_text("Running ·").first.wait_for(timeout=30_000)
    wait_for_batches(page, first + 10, 60_000)

    page.get_by_role("button", name="Stop training").click()
    page.get_by_text("Training stopped").wait_for(timeout=120_000)
    wait_ready(page, "Test accuracy")
    assert_no_exception(page)
    runs = runs_since(server, before)
    statuses = [json.loads((p / "status.json").read_text())["status"] for p in runs]
    assert statuses == ["stopped"]
    assert (runs[0] / "model.keras").is_file()
