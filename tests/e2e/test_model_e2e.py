"""Chromium: open the Model page from the sidebar, pick a preset and read its table."""

import pytest

from tests.e2e.helpers import assert_no_exception, choose, go_to, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py)."""
    return shared_server


def test_select_a_preset_and_see_its_summary(page, server):
    page.goto(server.url)
    wait_ready(page, "Handwritten digits 0-9")
    go_to(page, "Model")
    wait_ready(page, "93,322")
    choose(page, "Architecture", "LeNet-style with dropout")
    wait_ready(page, "242,062")
    table = page.locator("[data-testid=stDataFrame]").first
    table.wait_for()
    assert page.get_by_text("16×(5×5×1)+16 = 416").count() + table.get_by_text("416").count() >= 1
    assert page.locator("[data-testid=stGraphVizChart] svg, .stGraphVizChart svg").count() >= 1
    assert_no_exception(page)


def test_deep_link_goes_through_the_router(page, server):
    page.goto(f"{server.url}/model")
    wait_ready(page, "93,322")
    assert page.get_by_text("Current selection").count() == 1
    assert_no_exception(page)


def test_a_shared_link_reproduces_the_setup_in_another_browser(page, server, browser):
    page.goto(f"{server.url}/model")
    wait_ready(page, "93,322")
    choose(page, "Architecture", "LeNet-style with dropout")
    wait_ready(page, "242,062")
    go_to(page, "Data")
    wait_ready(page, "Handwritten digits 0-9")
    choose(page, "Dataset", "Shapes")
    wait_ready(page, "32 × 32 × 3")
    link = page.url
    assert "data=shapes" in link and "arch=lenet-dropout" in link

    other = browser.new_context()
    try:
        fresh = other.new_page()
        fresh.goto(link.replace("/?", "/model?") if "/model" not in link else link)
        wait_ready(fresh, "LeNet-style with dropout on Shapes")
        assert_no_exception(fresh)
    finally:
        other.close()
