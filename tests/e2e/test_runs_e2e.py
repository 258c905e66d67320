"""Chromium: compare two runs on the Runs page and download one of them."""

import shutil
import zipfile
from pathlib import Path

import pytest

from tests.e2e.helpers import assert_no_exception, wait_ready

pytestmark = pytest.mark.e2e
ROW = 35  # glide-data-grid row height, header included


def click_row(page, grid, row: int) -> None:
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + ROW * (row + 1) + ROW / 2)


def test_compare_two_runs_and_download_one(page, server, trained_runs, tmp_path):
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    for suffix in ("", "-copy"):
        shutil.copytree(source, server.workdir / "runs" / (source.name + suffix), dirs_exist_ok=True)
    page.goto(f"{server.url}/runs")
    wait_ready(page, "Select one or more rows")
    grid = page.locator("[data-testid=stDataFrame]").first
    click_row(page, grid, 0)
    wait_ready(page, "Whole run (.zip)")
    click_row(page, grid, 1)
    wait_ready(page, "Comparing 2 runs")
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # drawn after the text, later on a busy machine
    assert page.locator(".js-plotly-plot").count() == 1
    assert_no_exception(page)

    click_row(page, grid, 1)
    wait_ready(page, "Whole run (.zip)")
    with page.expect_download() as download:
        page.get_by_role("button", name="Whole run (.zip)").click()
    path = tmp_path / "run.zip"
    download.value.save_as(path)
    names = zipfile.ZipFile(path).namelist()
    assert any(n.endswith("/model.keras") for n in names) and any(n.endswith("/config.json") for n in names)
    assert_no_exception(page)


def test_take_a_run_home_script_report_and_phone_models(page, browser, server, trained_runs, tmp_path):
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    shutil.copytree(source, server.workdir / "runs" / (source.name + "-home"), dirs_exist_ok=True)
    page.goto(f"{server.url}/runs")
    wait_ready(page, "Select one or more rows")
    click_row(page, page.locator("[data-testid=stDataFrame]").first, 0)
    page.get_by_text("Take it home").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Python script (.py)").click()
    assert "import keras" in Path(download.value.path()).read_text()

    page.get_by_role("button", name="Write the HTML report").click()
    page.get_by_role("button", name="Report (.html, opens offline)").wait_for(timeout=120_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="Report (.html, opens offline)").click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    offline = browser.new_context(offline=True)  # no network at all: the charts must still draw
    try:
        view = offline.new_page()
        failed = []
        view.on("requestfailed", lambda request: failed.append(request.url))
        view.goto(report.as_uri())
        view.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
        plots = view.locator(".js-plotly-plot")
        assert plots.count() == 2  # the curves and the confusion matrix
        assert all(plots.nth(i).locator(".main-svg").count() >= 1 for i in range(2))  # each one drawn
        assert failed == []
        assert view.get_by_text("Mistakes").count() + view.get_by_text("Test accuracy").count() >= 1
    finally:
        offline.close()

    page.get_by_role("button", name="Convert to TFLite and SavedModel, and measure them").click()
    page.get_by_text("TFLite is scored through its own interpreter").wait_for(timeout=180_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="TFLite, quantized").click()
    assert Path(download.value.path()).read_bytes()[4:8] == b"TFL3"  # a TFLite flatbuffer
    assert_no_exception(page)
