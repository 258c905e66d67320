"""Start-up: from launching the server to the first page rendered in headless Chromium (goal < 2 s
for the page after the server answers), and to the first page that needs TensorFlow."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import save, table


def run() -> dict:
    from playwright.sync_api import sync_playwright

    from tests.conftest import train_tiny_run
    from tests.e2e.conftest import CHROMIUM_ARGS, Server

    workdir = Path(tempfile.mkdtemp())
    train_tiny_run(workdir / "runs")  # so the TensorFlow page has a model to load
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        browser.new_page().close()  # Chromium's own start is not the app's
        t0 = time.perf_counter()
        server = Server(workdir).start()
        t_ready = time.perf_counter()
        try:
            page = browser.new_page()
            page.goto(server.url)
            page.get_by_role("heading", name="Data").first.wait_for(timeout=60_000)
            t_title = time.perf_counter()
            page.get_by_text("Handwritten digits 0-9").first.wait_for(timeout=60_000)
            page.locator("[data-testid=stImage] img").nth(10).wait_for(timeout=60_000)
            t_data = time.perf_counter()
            page.goto(f"{server.url}/visualize")
            page.get_by_text("feature maps of conv2d").first.wait_for(timeout=120_000)
            t_tf = time.perf_counter()
        finally:
            server.stop()
            browser.close()
    figures = {
        "server_ready_s": round(t_ready - t0, 2),
        "first_content_after_ready_s": round(t_title - t_ready, 2),
        "data_page_after_ready_s": round(t_data - t_ready, 2),
        "data_page_from_launch_s": round(t_data - t0, 2),
        "tensorflow_page_s": round(t_tf - t_data, 2),
    }
    table(
        "Start-up in headless Chromium",
        [
            ("server launch → answering", f"{figures['server_ready_s']:.2f} s"),
            ("first content (the Data page's title) after the server answers", f"{figures['first_content_after_ready_s']:.2f} s"),
            (
                "first page complete (Data: chart and gallery drawn) after the server answers (goal < 2 s)",
                f"{figures['data_page_after_ready_s']:.2f} s",
            ),
            ("first page from launch", f"{figures['data_page_from_launch_s']:.2f} s"),
            (
                "then the first TensorFlow page (Visualize: import, load model, feature maps)",
                f"{figures['tensorflow_page_s']:.2f} s",
            ),
        ],
    )
    save("startup", figures)
    return figures
