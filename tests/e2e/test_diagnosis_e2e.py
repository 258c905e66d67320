"""Chromium: each finding of the diagnosis shown on a real run, and a suggestion applied with one click."""

import shutil

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import save_screenshot
from tests.e2e.helpers import assert_no_exception, choose, open_expander, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("diagnosed")]  # a shared session fixture (tests/conftest.py)


@pytest.fixture(scope="module")
def diagnosed_server(shared_server, diagnosed):
    """The session's shared server (tests/e2e/conftest.py) with copies of the diagnosis scenarios' runs
    (tests/trained.py), those with a model; the test picks each by its id."""
    names = {}
    for kind, (title, result) in diagnosed.items():
        if kind != "diverging":  # failed before it saved a model: the live test below shows that one
            shutil.copytree(result.run_dir, shared_server.workdir / "runs" / result.run_dir.name, dirs_exist_ok=True)
            names[title] = result.run_dir.name
    return shared_server, names


def test_each_finding_shows_on_its_run(browser, diagnosed_server):
    server, names = diagnosed_server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{server.url}/evaluate?run={next(iter(names.values()))}")
        wait_ready(page, "Confusion matrix")
        for title, run_id in names.items():
            choose(page, "Model", run_id)
            wait_ready(page, "Confusion matrix")
            for attempt in range(6):  # a rerun that ends after the click may draw the expander closed again
                open_expander(page, "What the training curves say")
                try:
                    page.get_by_text(title, exact=False).first.wait_for(timeout=20_000)
                    break
                except PlaywrightTimeout:
                    if attempt == 5:
                        raise
            assert page.get_by_text("Try:").count() >= 1
        assert_no_exception(page)
    except BaseException:
        save_screenshot(page, "each-finding")
        raise
    finally:
        page.close()


def test_a_diverging_run_live_and_its_suggestion_applied(page, shared_server):
    server = shared_server  # the session's (tests/e2e/conftest.py): this test needs no environment of its own
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
