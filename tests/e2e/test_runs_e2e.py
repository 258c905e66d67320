"""Chromium: compare two runs on the Runs page and download one of them."""

import shutil
import zipfile

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
