"""Chromium: a folder uploaded from the browser, and Fashion-MNIST from Debian's package trained
offline (`make test` installs dataset-fashion-mnist)."""

import os
from pathlib import Path

import pytest

from tests.conftest import make_class_folder
from tests.e2e.conftest import Server
from tests.e2e.helpers import assert_no_exception, choose, wait_ready

pytestmark = pytest.mark.e2e
DEBIAN = Path("/usr/share/datasets")


def test_upload_a_whole_folder_from_the_browser(page, shared_server, tmp_path):
    server = shared_server  # the session's (tests/e2e/conftest.py): this test needs no environment of its own
    root = make_class_folder(tmp_path / "pets", {"cats": 6, "dogs": 7})
    (root / ".DS_Store").write_bytes(b"junk")
    (root / "dogs" / "broken.png").write_bytes(b"not an image")
    page.goto(server.url)
    wait_ready(page, "Handwritten digits 0-9")
    choose(page, "Dataset", "Your own images")
    page.get_by_text("A folder from this computer").click()
    page.locator("[data-testid=stFileUploader] input[type=file][webkitdirectory]").set_input_files(str(root))
    wait_ready(page, "Ingestion report", timeout=120_000)
    page.get_by_text("13 images in 2 classes").wait_for()
    assert page.get_by_text("broken.png").count() >= 1  # skipped, with its reason
    assert page.locator("td").get_by_text("dogs", exact=True).count() == 1
    uploads = list((server.workdir / "data" / "uploads").glob("folder-*/pets/cats/*.png"))
    assert len(uploads) == 6  # kept inside the app's data folder
    assert_no_exception(page)


def test_fashion_mnist_from_debian_trains_in_the_browser_offline(browser, tmp_path):
    if not (DEBIAN / "fashion-mnist").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("dataset-fashion-mnist is not installed: `make test` installs it when root")
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    server = Server(tmp_path / "srv", env={"CNN_STUDIO_SYSTEM_DATASETS": str(DEBIAN)}).start()
    page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{server.url}/?data=fashion-mnist&limit=2000")
        wait_ready(page, "Loaded from:")
        page.get_by_text("Debian package dataset-fashion-mnist").first.wait_for()
        assert page.get_by_text("Ankle boot").count() >= 1
        page.goto(f"{server.url}/train?data=fashion-mnist&limit=2000&arch=keras-mnist&epochs=2")
        wait_ready(page, "Keras MNIST convnet")
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text("Training completed").wait_for(timeout=240_000)
        assert_no_exception(page)
    finally:
        page.context.close()
        server.stop()
