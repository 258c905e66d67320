"""Chromium: open the app, switch datasets, upload a zip of class folders and see its gallery."""

import pytest

from tests.conftest import folder_members, make_zip
from tests.e2e.helpers import assert_no_exception, choose, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py)."""
    return shared_server


def test_switch_dataset_and_upload_a_zip(page, server, tmp_path):
    page.goto(server.url)
    wait_ready(page, "Handwritten digits 0-9")
    page.locator("[data-testid=stImage] img").nth(10).wait_for()  # the chart and ten sample strips
    assert page.get_by_text("28 × 28 × 1").count() == 1

    choose(page, "Dataset", "Shapes")
    wait_ready(page, "32 × 32 × 3")
    assert page.get_by_text("triangle").count() >= 1

    zpath = make_zip(tmp_path / "pets.zip", folder_members({"猫": 6, "狗": 6}, prefix="pets/") | {"pets/notes.txt": b"x"})
    choose(page, "Dataset", "Your own images")
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(zpath))
    wait_ready(page, "Ingestion report")
    page.locator("[data-testid=stMarkdownContainer] strong").get_by_text("猫", exact=True).wait_for()  # the gallery heading
    assert page.locator("td").get_by_text("猫", exact=True).count() == 1  # and its row in the counts table
    assert page.get_by_text("notes.txt").count() >= 1
    page.locator("[data-testid=stImage] img").nth(2).wait_for()  # distribution chart + one strip per class
    assert page.locator("[data-testid=stImage] img").count() == 3
    assert_no_exception(page)
