"""Start-up in headless Chromium: server launch until it answers, then from the browser's navigation
until the first page is complete (goal < 2 s) and until the first TensorFlow page is drawn.

Times on the page come from the browser's own clock (`performance.now()`, zero at navigation), so
neither opening a tab nor Playwright's polling is counted. Each repeat starts a fresh server."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import median, save, table

REPEATS = 3

# Records when the Data page's title shows and when it is complete: its dataset named and every
# image (the class chart and the ten sample strips) loaded and decoded.
OBSERVER = """
window.__marks = {};
const check = () => {
  const m = window.__marks, now = performance.now();
  if (!m.title && [...document.querySelectorAll('h1')].some(h => h.textContent.trim().startsWith('Data'))) m.title = now;
  const images = [...document.querySelectorAll('[data-testid=stImage] img')];
  if (m.title && !m.complete && images.length >= 11 && images.every(i => i.complete && i.naturalWidth > 0)
      && document.body.innerText.includes('Handwritten digits 0-9')) m.complete = now;
};
new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
document.addEventListener('load', check, true);
"""
VISUALIZE_DRAWN = "() => document.body.innerText.includes('feature maps of conv2d') && performance.now()"


def _one_start(browser, workdir: Path, tensorflow_page: bool) -> dict:
    from tests.e2e.conftest import Server

    page = browser.new_page()  # the visitor's browser is already open
    page.add_init_script(OBSERVER)
    page.goto("about:blank")
    t0 = time.time()
    server = Server(workdir).start()
    ready = time.time() - t0
    try:
        page.goto(server.url)
        page.wait_for_function("window.__marks.complete", timeout=60_000)
        marks = page.evaluate("window.__marks")
        figures = {
            "server_ready_s": ready,
            "first_content_s": marks["title"] / 1000,
            "data_page_s": marks["complete"] / 1000,
            "data_page_from_launch_s": (page.evaluate("performance.timeOrigin") + marks["complete"]) / 1000 - t0,
        }
        if tensorflow_page:
            page.goto(f"{server.url}/visualize")
            figures["tensorflow_page_s"] = (
                page.wait_for_function(VISUALIZE_DRAWN, polling=50, timeout=120_000).json_value() / 1000
            )
        return figures
    finally:
        server.stop()
        page.close()


def run() -> dict:
    from playwright.sync_api import sync_playwright

    from tests.conftest import train_tiny_run
    from tests.e2e.conftest import CHROMIUM_ARGS

    workdir = Path(tempfile.mkdtemp())
    train_tiny_run(workdir / "runs")  # so the TensorFlow page has a model to load
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            browser.new_page().close()  # Chromium's own start is not the app's
            starts = [_one_start(browser, workdir, tensorflow_page=k == REPEATS - 1) for k in range(REPEATS)]
        finally:
            browser.close()
    figures = {key: round(median([s[key] for s in starts if key in s]), 2) for key in starts[-1]}
    figures["data_page_each_s"] = [round(s["data_page_s"], 2) for s in starts]
    table(
        f"Start-up in headless Chromium (median of {REPEATS} fresh servers; page times from the browser's navigation)",
        [
            ("server launch → answering its health check", f"{figures['server_ready_s']:.2f} s"),
            ("navigation → first content (the Data page's title)", f"{figures['first_content_s']:.2f} s"),
            (
                "navigation → first page complete (Data: chart and 10 sample strips loaded; goal < 2 s)",
                f"{figures['data_page_s']:.2f} s  (each: {figures['data_page_each_s']})",
            ),
            ("server launch → first page complete", f"{figures['data_page_from_launch_s']:.2f} s"),
            (
                "navigation → first TensorFlow page drawn (Visualize: import, load model, feature maps)",
                f"{figures['tensorflow_page_s']:.2f} s",
            ),
        ],
    )
    save("startup", figures)
    return figures
