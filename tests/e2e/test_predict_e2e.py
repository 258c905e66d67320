"""Chromium: draw a stroke on the canvas with real mouse events, upload files, see predictions or refusals."""

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.e2e.helpers import assert_no_exception, choose, draw_a_digit, wait_ready
from tests.trained import copy_runs

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py): each test names its run in the address."""
    return shared_server


@pytest.fixture(scope="module")
def digits_run(server, digits_runs):
    return copy_runs(digits_runs, server.workdir / "runs")[0]


def test_draw_and_upload(page, server, tmp_path, digits_run):
    page.goto(f"{server.url}/predict?run={digits_run.name}")
    wait_ready(page, "Draw a digit above", timeout=120_000)  # the server's first model: TensorFlow is imported
    draw_a_digit(page)
    assert page.get_by_text("Prediction").count() >= 1
    assert_no_exception(page)

    page.get_by_text("Upload", exact=True).click()
    wait_ready(page, "Give an image to classify")
    digit = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(digit).ellipse([150, 60, 250, 240], outline="black", width=25)
    path = tmp_path / "zero.jpg"
    digit.save(path, format="JPEG")
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(path))
    wait_ready(page, "what the model sees")
    assert_no_exception(page)

    svg = tmp_path / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><circle r="5"/></svg>')
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(svg))  # added to the first
    wait_ready(page, "1 of 2 images classified")  # a table: one prediction, one refusal with its reason
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the predictions (CSV)").click()
    csv = Path(download.value.path()).read_text()
    assert csv.startswith("image,predicted,confidence") and "zero.jpg" in csv and "drawing.svg" in csv
    choose(page, "Look closer at", "drawing.svg")
    wait_ready(page, "This image cannot be used")
    assert_no_exception(page)


def test_robustness_sliders_and_the_occlusion_map(page, server, tmp_path, digits_run):
    page.goto(f"{server.url}/predict?run={digits_run.name}")
    wait_ready(page, "Draw a digit above")
    page.get_by_text("Upload", exact=True).click()
    digit = Image.new("RGB", (280, 280), "white")
    ImageDraw.Draw(digit).line([140, 40, 140, 240], fill="black", width=30)
    path = tmp_path / "one.png"
    digit.save(path)
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(path))
    wait_ready(page, "what the model sees")
    page.get_by_text("How robust is this prediction?").click()
    wait_ready(page, "the changed image the model sees")
    changed = "[...document.querySelectorAll('[data-testid=stImage]')].find(e => e.innerText.includes('the changed image'))"
    before = page.evaluate(f"{changed}.querySelector('img').src")
    page.get_by_role("slider", name="Turn (degrees)").focus()
    for _ in range(9):  # 45 degrees, 5 at a time
        page.keyboard.press("ArrowRight")
    page.get_by_text("45.00").first.wait_for()
    page.wait_for_function(f"before => {changed}.querySelector('img').src !== before", arg=before, timeout=30_000)
    wait_ready(page)  # the turned image was redrawn, and its prediction with it
    page.get_by_text("Occlusion map: where covering the image hurts").click()
    page.get_by_text("red: covering here lowers").wait_for(timeout=60_000)
    assert_no_exception(page)
    assert page.locator("[data-testid=stAlertContentError]").count() == 0
    missing = "[...document.querySelectorAll('[data-testid=stImageContainer] img')].filter(i => !i.alt).length"
    assert (
        page.locator("[data-testid=stImageContainer] img").count() >= 5 and page.evaluate(missing) == 0
    )  # alt text on every image
    png = page.locator("[data-testid=stDownloadButton] button").filter(has_text="PNG")  # not Plotly's own "png" button
    assert png.count() >= 3  # Grad-CAM, saliency, occlusion (and the maps in the closed expander)
    with page.expect_download() as download:
        png.filter(visible=True).first.click()
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.get_by_text("what the model sees").count() >= 1  # the page kept its upload
