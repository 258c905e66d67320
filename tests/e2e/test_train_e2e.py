"""Chromium: train, watch the chart grow, leave and come back while it runs, stop, find the run saved."""

import json

import pytest

from tests.e2e.helpers import assert_no_exception, go_to, wait_ready

pytestmark = pytest.mark.e2e

POINTS = "() => { const g = document.querySelector('.js-plotly-plot'); return g && g.data ? g.data[0].x.length : 0; }"


def chart_points(page) -> int:
    return page.evaluate(POINTS)


def test_train_watch_leave_return_stop(page, server):
    page.goto(f"{server.url}/train")
    wait_ready(page, "Keras MNIST convnet")
    page.get_by_label("Epochs", exact=True).fill("40")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Stop training").wait_for(timeout=120_000)
    page.wait_for_function(f"({POINTS})() > 5", timeout=120_000)
    first = chart_points(page)
    page.wait_for_function(f"({POINTS})() > {first + 5}", timeout=60_000)  # points keep arriving
    assert "run=" in page.url

    go_to(page, "Data")
    wait_ready(page, "Handwritten digits 0-9")
    go_to(page, "Train")
    page.get_by_role("button", name="Stop training").wait_for(timeout=30_000)
    assert page.get_by_text("running", exact=True).count() >= 1
    page.wait_for_function(f"({POINTS})() > {first + 10}", timeout=60_000)

    page.get_by_role("button", name="Stop training").click()
    page.get_by_text("Training stopped").wait_for(timeout=120_000)
    wait_ready(page, "Test accuracy")
    assert_no_exception(page)
    runs = [p for p in (server.workdir / "runs").iterdir() if p.is_dir()]
    statuses = [json.loads((p / "status.json").read_text())["status"] for p in runs]
    assert statuses == ["stopped"]
    assert (runs[0] / "model.keras").is_file()
