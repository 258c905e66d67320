"""Chromium: define a sweep on the Sweeps page, watch its table fill as the trials train, and make
the best trial the current model."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import assert_no_exception, choose, run_folders, wait_ready

pytestmark = pytest.mark.e2e
# 60 epochs: each trial trains several seconds, so the page sees the sweep running (3 epochs ended it before a first redraw)
LINK = "data=digits&size=16&limit=150&epochs=60&arch=tutorial-minimal"
# the sweep's status line (`**Running**: …`) says `word`: any bold text of the main area, not the first
# element of the page with that text, which a hidden one could be
STATUS = "word => [...document.querySelectorAll('[data-testid=stMain] strong')].some(e => e.innerText.trim() === word)"
CELLS = "() => [...document.querySelectorAll('[data-testid=stDataFrame] [role=gridcell]')].map(c => c.innerText)"


@pytest.fixture
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py)."""
    return shared_server


def test_define_a_sweep_watch_the_table_fill_and_keep_the_best(page, server):
    page.goto(f"{server.url}/sweeps?{LINK}")
    wait_ready(page, "No sweeps yet")
    page.get_by_label("Learning rate: values", exact=True).fill("0.001,0.003,0.01")
    choose(page, "Search", "Grid")
    choose(page, "Stop hopeless trials early", "No pruning")  # every trial trains to its end
    page.get_by_role("button", name="Start the sweep").click()
    page.wait_for_function(STATUS, arg="Running", timeout=120_000)
    page.wait_for_function(f"({CELLS})().includes('running')", timeout=120_000)  # the table shows a trial training
    page.wait_for_function(STATUS, arg="Completed", timeout=240_000)  # redrawn live, no click needed
    wait_ready(page)
    cells = page.evaluate(CELLS)
    assert cells.count("complete") == 3, cells
    assert page.locator(".js-plotly-plot").count() >= 2  # the validation curves and the parallel coordinates
    assert_no_exception(page)

    page.get_by_role("button", name="Make the best trial the current model").click()
    page.get_by_text("is the current model").wait_for()
    sweeps = server.workdir / "runs" / ".sweeps"
    (folder,) = list(sweeps.iterdir())
    message = json.loads((folder / "status.json").read_text())["message"]
    best_trial = int(message.split("best: trial ")[1].split(" ")[0])
    trials = {(json.loads((p / "config.json").read_text()).get("sweep") or {}).get("trial"): p.name for p in run_folders(server)}
    best_run = trials[best_trial]  # the shared server's other runs belong to no sweep
    page.locator("[data-testid=stSidebar]").get_by_text(best_run).wait_for()  # the sidebar card names it
    assert_no_exception(page)
