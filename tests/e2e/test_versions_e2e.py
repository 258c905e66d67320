"""Chromium: a dataset version picked on the Data page travels in the link; a second browser opening
that link loads the same images (issue 27)."""

import re
from urllib.parse import unquote

import pytest

from cnn_core.data import versions
from cnn_core.data.datasets import load_dataset
from cnn_core.settings.config import DataConfig
from tests.e2e.helpers import assert_no_exception, wait_ready

pytestmark = pytest.mark.e2e


def _seen(page) -> dict:
    """What the Data page shows of the loaded images: the metrics, the tables and every image's content."""
    images = page.locator("[data-testid=stImage] img")
    return {
        "metrics": page.locator("[data-testid=stMetricValue]").all_inner_texts(),
        "tables": page.locator("table").all_inner_texts(),
        "images": [images.nth(i).get_attribute("src") for i in range(images.count())],  # media ids hash the pixels
    }


def test_a_version_id_in_a_share_link_loads_the_same_images_in_a_second_browser(browser, server, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_DATA_DIR", str(server.workdir / "data"))  # the server's own versions folder
    base = load_dataset(DataConfig("mnist-5k"))
    zeros = base.train.keys[base.train.labels == 0][:3].tolist()
    marks = [{"key": k, "action": "relabel", "to": "1"} for k in zeros] + [{"key": int(base.test.keys[0]), "action": "exclude"}]
    version_id = versions.derive("mnist-5k", marks, base)

    first = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    first.set_default_timeout(60_000)
    first.goto(server.url)
    wait_ready(first, "Versions")
    assert first.get_by_text(version_id[-8:]).count() >= 1
    first.get_by_role("button", name="Use this version").click()
    first.wait_for_url(re.compile(r"data=mnist-5k%40v-"))
    wait_ready(first, "In use")
    link = first.url
    assert f"data={version_id}" in unquote(link)
    shown = _seen(first)
    assert len(shown["images"]) >= 11  # the class chart and a sample strip per class (plus the edited images)
    assert shown["metrics"][2:] == ["3,750", "500", "749"]  # train, validation, test images: one test image excluded
    assert any("375→372" in t.replace(" ", "") and "375→378" in t.replace(" ", "") for t in shown["tables"])
    assert_no_exception(first)

    second = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    second.set_default_timeout(60_000)
    second.goto(link)
    wait_ready(second, "In use")
    assert _seen(second) == shown
    assert second.get_by_text("could not use").count() == 0  # the link's values were all applied
    assert_no_exception(second)
    for page in (first, second):
        page.context.close()
