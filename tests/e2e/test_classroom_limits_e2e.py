"""Chromium, classroom mode: a learner's refusals as they see them on the page: a server folder
outside the data roots, and a second run past the class's queue limit."""

import pytest

from tests.conftest import make_class_folder
from tests.e2e.conftest import Server, save_screenshot
from tests.e2e.helpers import assert_no_exception, choose, wait_ready
from tests.e2e.test_classroom_learners_e2e import CLASS_CODE, LONG_RUN, TEACHER_CODE, join, start_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    roots = tmp_path_factory.mktemp("roots")
    make_class_folder(roots / "pets", {"cats": 6, "dogs": 6})
    env = {"CNN_STUDIO_CLASSROOM": "1", "CNN_STUDIO_CLASS_CODE": CLASS_CODE, "CNN_STUDIO_TEACHER_CODE": TEACHER_CODE,
           "CNN_STUDIO_DATA_ROOTS": str(roots), "CNN_STUDIO_LEARNER_QUEUED_RUNS": "0", "CNN_STUDIO_MAX_JOBS": "2"}  # fmt: skip
    srv = Server(tmp_path_factory.mktemp("classroom-limits"), env).start()
    srv.roots = roots
    yield srv
    srv.stop()  # killed after a grace period when it does not exit (Server.stop)


def test_a_folder_outside_the_data_roots_is_refused_and_one_inside_loads(browser, server):
    page = join(browser, server, CLASS_CODE, "Cy")
    try:
        page.goto(server.url)  # the Data page is the app's default page
        wait_ready(page, "Dataset")
        choose(page, "Dataset", "Your own images")
        wait_ready(page, "Bring them as")
        page.get_by_text("A folder path on the server").click()
        box = page.get_by_role("textbox", name="A folder on this machine")
        box.fill("/etc")
        box.press("Enter")
        wait_ready(page, "outside the folders this class may read")
        assert "passwd" not in page.locator("[data-testid=stMain]").inner_text()
        box.fill(str(server.roots / "pets"))
        box.press("Enter")
        wait_ready(page, "cats")
        assert_no_exception(page)
    finally:
        page.context.close()


def test_a_second_run_past_the_queue_limit_gets_the_message_naming_the_limit(browser, server):
    page = join(browser, server, CLASS_CODE, "Di")
    try:
        first = start_run(page, server)
        page.goto(server.url + LONG_RUN.replace("epochs=1000", "epochs=999"))  # other settings: a second run
        wait_ready(page, "Minimal CNN")
        page.get_by_role("button", name="Train", exact=True).click(timeout=180_000)  # beside a training run: 60 s was short once
        wait_ready(page, "the class allows at most 1 active run and no queued runs")
        runs = sorted(p.name for p in (server.workdir / "runs").iterdir() if p.is_dir() and not p.name.startswith("."))
        assert runs == [first]  # nothing was made for the refused run
        assert_no_exception(page)
    except BaseException:
        save_screenshot(page, "queue-limit")
        raise
    finally:
        page.context.close()
