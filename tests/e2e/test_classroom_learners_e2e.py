"""Chromium, classroom mode: two learners each train a run; neither sees, opens or downloads the
other's until it is published; the teacher sees both and stops them."""

import json
import re

import pytest

from tests.e2e.conftest import Server, save_screenshot
from tests.e2e.helpers import assert_no_exception, wait_ready

pytestmark = pytest.mark.e2e
CLASS_CODE, TEACHER_CODE = "learners-e2e-class", "learners-e2e-teacher"
# long enough to be still training when the teacher stops it; digits and the smallest model start fastest
LONG_RUN = "/train?data=digits&arch=tutorial-minimal&epochs=1000&batch=16"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"CNN_STUDIO_CLASSROOM": "1", "CNN_STUDIO_CLASS_CODE": CLASS_CODE, "CNN_STUDIO_TEACHER_CODE": TEACHER_CODE,
           "CNN_STUDIO_MAX_JOBS": "2", "CNN_STUDIO_DATA_ROOTS": ""}  # fmt: skip
    srv = Server(tmp_path_factory.mktemp("classroom"), env).start()
    yield srv
    srv.stop()  # killed after a grace period when it does not exit (Server.stop)


def join(browser, server, code: str, name: str):
    """A new browser that follows the class (or teacher) link, keeps its identity in its cookie and
    chooses its display name."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/?code={code}")
    wait_ready(page, "Current selection")
    page.wait_for_function("document.cookie.includes('cnn_studio_owner=')")
    page.get_by_label(re.compile("^Choose a name for")).fill(name)
    page.keyboard.press("Enter")
    wait_ready(page, f"{name} (")
    return page


def start_run(page, server) -> str:
    page.goto(server.url + LONG_RUN)
    wait_ready(page, "Minimal CNN")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Stop training").wait_for(timeout=180_000)
    return re.search(r"[?&]run=([^&]+)", page.url).group(1)


def runs_page_text(page, server, query: str = "") -> str:
    """The Runs page's words, its table's cells included (the grid draws on a canvas; its cells are
    also in the page for screen readers)."""
    page.goto(f"{server.url}/runs{query}")
    page.locator("[data-testid=stDataFrame] table td").first.wait_for(state="attached")
    wait_ready(page)
    assert_no_exception(page)
    cells = page.locator("[data-testid=stDataFrame] table").all_inner_texts()
    return "\n".join([page.locator("[data-testid=stMain]").inner_text(), *cells])


def status(server, run_id: str) -> str:
    return json.loads((server.workdir / "runs" / run_id / "status.json").read_text())["status"]


def test_learners_see_only_their_own_runs_until_one_is_published_and_the_teacher_stops_both(browser, server):
    ada, bo = join(browser, server, CLASS_CODE, "Ada"), join(browser, server, CLASS_CODE, "Bo")
    teacher = join(browser, server, TEACHER_CODE, "Ms T")
    try:
        run_a, run_b = start_run(ada, server), start_run(bo, server)
        assert run_a != run_b

        bo.goto(f"{server.url}/train?run={run_a}")  # while Ada's run trains
        wait_ready(bo, "Train")
        assert bo.get_by_role("button", name="Stop training").count() == 0  # never Ada's controls, nor her live view
        assert run_a not in bo.locator("[data-testid=stMain]").inner_text()

        teacher.goto(f"{server.url}/teacher")
        wait_ready(teacher, "The class")
        enabled_stops = (
            "[...document.querySelectorAll('button')].filter(b => b.innerText.trim() === 'Stop' && !b.disabled).length"
        )
        teacher.wait_for_function(f"() => {enabled_stops} === 2")  # each learner's row has a Stop button while their run trains
        for left in (1, 0):  # the table redraws every 2 s: find the enabled Stop and click it in one step
            teacher.locator("button:not([disabled])").filter(has_text=re.compile(r"^\s*Stop\s*$")).first.click()
            teacher.wait_for_function(f"() => {enabled_stops} === {left}")  # a stopped row's button is disabled at once
            wait_ready(teacher)
        for run_id in (run_a, run_b):
            for _ in range(300):  # a job ends its current batch, then saves
                if status(server, run_id) == "stopped":
                    break
                teacher.wait_for_timeout(200)
            assert status(server, run_id) == "stopped", run_id

        seen_by_teacher = runs_page_text(teacher, server)  # what follows needs no run training
        assert run_a in seen_by_teacher and run_b in seen_by_teacher
        assert "Ada · private" in seen_by_teacher and "Bo · private" in seen_by_teacher
        seen_by_bo = runs_page_text(bo, server)
        assert run_b in seen_by_bo and run_a not in seen_by_bo
        refused = runs_page_text(bo, server, f"?run={run_a}")
        assert f"no run {run_a} that you can see" in refused
        assert bo.get_by_role("button", name="Whole run (.zip)").count() == 0
        assert bo.get_by_role("button", name="model.keras").count() == 0
        bo.goto(f"{server.url}/predict?run={run_a}")  # a light page: Evaluate would go on to score the test split
        wait_ready(bo, "that you can see")
        assert run_a not in bo.get_by_role("combobox", name="Model").first.input_value()

        runs_page_text(ada, server, f"?run={run_a}")  # the link opens Ada's own run
        ada.get_by_text("Publish to the class").click()
        wait_ready(ada)
        assert json.loads((server.workdir / "runs" / run_a / "config.json").read_text())["published"] is True

        seen_by_bo = runs_page_text(bo, server, f"?run={run_a}")
        assert run_a in seen_by_bo and "Ada · published to the class" in seen_by_bo
        assert bo.get_by_role("button", name="Whole run (.zip)").count() == 1
        for page in (ada, bo, teacher):
            assert_no_exception(page)
    except BaseException:
        for name, page in (("ada", ada), ("bo", bo), ("teacher", teacher)):
            save_screenshot(page, f"classroom-{name}")
        raise
    finally:
        for page in (ada, bo, teacher):
            page.context.close()
