"""Chromium: the Evaluate page's label issues on a small run: find them, mark one relabelled,
save the marks as a dataset version and see its id."""

import re

import pytest

from tests.e2e.helpers import assert_no_exception, wait_ready
from tests.trained import copy_runs

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py): these tests read only the run they copy
    into it, named in each address (`?run=`)."""
    return shared_server


@pytest.fixture(scope="module")
def digits_run(server, digits_runs):
    return copy_runs(digits_runs, server.workdir / "runs")[0]


def test_find_label_issues_mark_one_and_save_a_version(page, server, digits_run):
    page.goto(f"{server.url}/evaluate?run={digits_run.name}")
    wait_ready(page, "Two ways to find wrong labels")
    for name, value in (("Folds (k models)", "2"), ("Epochs per fold model", "1")):
        box = page.get_by_role("spinbutton", name=name)
        for _ in range(3):  # a rerun still drawing the page (its first model, on a busy server) can undo a fill
            box.fill(value)
            box.press("Enter")
            wait_ready(page)
            if box.input_value() == value:
                break
        assert box.input_value() == value
    page.get_by_role("button", name=re.compile(r"Find label issues \(2 trainings")).click()
    page.get_by_text("label issue(s) among").first.wait_for(timeout=180_000)
    wait_ready(page)
    assert page.get_by_text("from 2 fold models of 1 epoch(s)").count() == 1
    box = page.get_by_role("combobox", name="Mark").first
    box.scroll_into_view_if_needed()
    box.click()
    page.keyboard.press("ArrowDown")  # the first choice after "no mark": relabel to the suggested class
    page.keyboard.press("Enter")
    page.get_by_text("1 pending mark(s):").wait_for()
    wait_ready(page)
    page.get_by_role("button", name="Save as a dataset version").click()
    saved = page.get_by_text("Saved as dataset version")
    saved.wait_for()
    version = re.search(r"digits@v-[0-9a-f]{8}", saved.inner_text()).group(0)
    assert (server.workdir / "data" / "versions" / f"{version[-8:]}.json").is_file()
    assert page.get_by_text("Edited images: 1 training").count() == 1
    assert_no_exception(page)
