"""Chromium: after a tiny training run, Evaluate shows the confusion matrix, Visualize a feature-map grid."""

import pytest

from tests.e2e.helpers import assert_no_exception, choose, go_to, wait_ready
from tests.trained import copy_runs

pytestmark = pytest.mark.e2e


def test_evaluate_and_visualize_after_training(page, shared_server, trained_runs):
    server = shared_server  # the session's (tests/e2e/conftest.py): the address names the run it copies in
    (run,) = copy_runs(trained_runs, server.workdir / "runs")
    page.goto(f"{server.url}/evaluate?run={run.name}")
    wait_ready(page, "Confusion matrix")
    page.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot .hm").first.wait_for(timeout=120_000)
    assert page.get_by_role("heading", name="Per-class metrics").count() == 1
    assert_no_exception(page)

    go_to(page, "Visualize")
    wait_ready(page, "feature maps of conv2d")
    assert page.locator("[data-testid=stImage] img").count() >= 5
    choose(page, "Layer", "max_pooling2d")
    wait_ready(page, "feature maps of max_pooling2d")
    assert_no_exception(page)
