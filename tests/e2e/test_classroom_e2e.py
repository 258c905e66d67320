"""Chromium, classroom mode: without a code a browser gets the join page and nothing from the runs or
the data; a wrong code is refused; the class link joins directly, drops its code from the address,
and the browser stays joined after a reload. A link's own text in a notice is never a link."""

import json

import pytest

from tests.e2e.conftest import Server
from tests.e2e.helpers import assert_no_exception, wait_ready

pytestmark = pytest.mark.e2e
CLASS_CODE, TEACHER_CODE = "gate-e2e-class", "gate-e2e-teacher"
SECRET_RUN = "20260101-120000-keras-mnist-5eed"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("classroom-gate")
    run = workdir / "runs" / SECRET_RUN
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"run_id": SECRET_RUN, "name": "a learner's private run", "owner": "0" * 16}))
    env = {"CNN_STUDIO_CLASSROOM": "1", "CNN_STUDIO_CLASS_CODE": CLASS_CODE, "CNN_STUDIO_TEACHER_CODE": TEACHER_CODE}
    srv = Server(workdir, env).start()
    yield srv
    srv.stop()


def test_the_server_prints_both_links_with_their_codes(server):
    log = server.log.read_text()
    assert f"class link  : http://127.0.0.1:{server.port}/?code={CLASS_CODE}  (from $CNN_STUDIO_CLASS_CODE)" in log
    assert f"teacher link: http://127.0.0.1:{server.port}/?code={TEACHER_CODE}" in log


def test_without_a_code_only_the_join_page_and_nothing_of_the_runs_or_data(page, server):
    for path in ("/", "/runs", f"/evaluate?run={SECRET_RUN}", "/data?data=shapes"):
        page.goto(server.url + path)
        wait_ready(page, "enter the code your teacher gave you")
        html = page.content()
        assert SECRET_RUN not in html and "private run" not in html
        assert "Handwritten digits" not in html and "Current selection" not in html
        assert page.locator("[data-testid=stSidebarNav]").count() == 0
        assert page.locator("[data-testid=stSidebar]").count() == 0 or not page.locator("[data-testid=stSidebar]").is_visible()
        assert_no_exception(page)


def test_a_wrong_code_is_refused(page, server):
    page.goto(server.url)
    wait_ready(page, "enter the code your teacher gave you")
    page.get_by_label("Code").fill("gate-e2e-clas")
    page.get_by_role("button", name="Join").click()
    page.get_by_text("That is not this class's code").wait_for()
    assert page.get_by_text("Current selection").count() == 0

    page.goto(f"{server.url}/?code=not-it")  # a wrong code in a link: refused too, and not kept in the address
    page.get_by_text("That is not this class's code").wait_for()
    assert "code=" not in page.url


def test_a_learner_joins_by_link_and_stays_joined_after_a_reload(page, server):
    page.goto(f"{server.url}/?code={CLASS_CODE}&data=shapes&[x](http://evil.example)=1&![i](http://evil.example/i.png)=2")
    wait_ready(page, "Current selection")
    assert "code=" not in page.url and "data=shapes" in page.url  # the share link carries the setup, not the code
    page.get_by_text("(learner)").first.wait_for()
    warning = page.locator("[data-testid=stAlert]").filter(has_text="could not use")
    assert "[x](http://evil.example)" in warning.inner_text()
    assert warning.locator("a").count() == 0 and warning.locator("img").count() == 0  # shown as typed
    page.wait_for_function("document.cookie.includes('cnn_studio_owner=')")

    page.get_by_label("Choose a name for your teacher to see").fill("Ada")
    page.keyboard.press("Enter")
    page.get_by_text("Your name, as your teacher sees it").wait_for()
    page.reload()
    wait_ready(page, "Current selection")
    assert page.get_by_text("enter the code your teacher gave you").count() == 0
    assert page.locator("[data-testid=stSidebar]").get_by_text("Ada").count() >= 1
    assert page.locator("[data-testid=stSidebarNav] a").filter(has_text="Teacher").count() == 0
    assert_no_exception(page)


def test_wrong_codes_are_limited_per_client_address_as_a_proxy_on_this_machine_reports_it(browser, server):
    def browser_at(address: str):
        context = browser.new_context(extra_http_headers={"X-Forwarded-For": address})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(server.url)
        wait_ready(page, "enter the code your teacher gave you")
        return page

    def try_code(page, code: str) -> None:
        page.get_by_label("Code").fill(code)
        page.get_by_role("button", name="Join").click()
        wait_ready(page)

    guesser, neighbour = browser_at("10.9.8.7"), browser_at("10.9.8.8")
    try:
        for i in range(5):
            try_code(guesser, f"guess-{i}")
            guesser.get_by_text("That is not this class's code").wait_for()
        try_code(guesser, CLASS_CODE)  # even the right code waits now
        guesser.get_by_text("Too many wrong codes from your address").wait_for()
        assert guesser.get_by_text("Current selection").count() == 0
        try_code(neighbour, CLASS_CODE)  # another address is not held back
        neighbour.get_by_text("Current selection").wait_for()
    finally:
        guesser.context.close()
        neighbour.context.close()


def test_the_teacher_page_shows_the_class_link_and_never_the_teacher_code(page, server):
    page.goto(f"{server.url}/?code={TEACHER_CODE}")
    wait_ready(page, "Current selection")
    page.locator("[data-testid=stSidebarNav] a").filter(has_text="Teacher").first.click()
    wait_ready(page, "Limits for each learner")
    assert f"{server.url}/?code={CLASS_CODE}" in page.locator("[data-testid=stCode]").first.inner_text()
    assert TEACHER_CODE not in page.content() and "code=" not in page.url
    assert_no_exception(page)
