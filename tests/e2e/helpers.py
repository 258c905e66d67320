"""Small Playwright helpers for Streamlit pages."""

from __future__ import annotations

from pathlib import Path

EXCEPTION = "[data-testid=stException]"
# Epochs for a run of the Train page's default (Keras MNIST convnet on MNIST 5k) that a test stops by
# hand: long enough never to finish first, even on a loaded machine (30 epochs, about 45 s here, did
# finish before a slow test's Stop). Auto precision times bfloat16 against float32 before the first
# such run of a server (a few seconds; then it is cached in the server's data folder).
LONG_EPOCHS = "200"


def wait_ready(page, text: str | None = None, timeout: float = 60_000) -> None:
    """Wait for `text` (when given), then until no script run is shown for about a second."""
    if text:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    quiet, waited = 0, 0
    while quiet < 5 and waited < timeout:
        running = page.locator("[data-testid=stStatusWidget]").count() > 0
        quiet = 0 if running else quiet + 1
        page.wait_for_timeout(200)
        waited += 200


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`: type to filter, then Enter. (A mouse click on
    the option list can fall through to the widget under it while the list closes.)"""
    box = page.get_by_role("combobox", name=label).first
    box.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=False).first.wait_for()
    page.keyboard.press("Enter")


def open_expander(page, label: str, timeout: float = 60_000) -> None:
    """Open the expander whose label starts with `label`, whatever state it is in: Streamlit may keep an
    expander open through a rerun, and a click made while the page reruns can be lost."""
    details = page.locator("[data-testid=stExpander] details").filter(has=page.locator("summary", has_text=label)).first
    details.wait_for(timeout=timeout)
    waited = 0
    while not details.evaluate("d => d.open"):
        if waited >= timeout:
            raise AssertionError(f"the expander {label!r} did not open")
        if waited % 3000 == 0:  # click, then give the page three seconds to open it
            details.locator("summary").click()
        page.wait_for_timeout(200)
        waited += 200


def go_to(page, title: str) -> None:
    """Follow the sidebar navigation link to the page called `title`."""
    page.locator("[data-testid=stSidebarNav] a").filter(has_text=title).first.click()


def assert_no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()
    assert page.get_by_text("Unexpected error").count() == 0, page.get_by_text("Unexpected error").first.inner_text()


BATCHES = r"""() => { const m = document.body.innerText.match(/([\d,]+) batches\. The band/); return m ? parseInt(m[1].replace(/,/g, '')) : 0; }"""


def batches_shown(page) -> int:
    """How many trained batches the Train page's live view reports."""
    return page.evaluate(BATCHES)


def wait_for_batches(page, count: int, timeout: float = 120_000) -> None:
    page.wait_for_function(f"({BATCHES})() >= {count}", timeout=timeout)


def draw_a_digit(page) -> None:
    """Draw a vertical stroke (a "1") on the Predict page's canvas with real mouse events, and wait for the prediction."""
    box = page.locator("canvas").last.bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 240, steps=20)
    page.mouse.up()
    wait_ready(page, "what the model sees")


def run_folders(server) -> set[Path]:
    """The server's run folders now (not its hidden .sweeps and the like)."""
    runs = server.workdir / "runs"
    return {p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")} if runs.is_dir() else set()


def runs_since(server, before: set[Path]) -> list[Path]:
    """The run folders made since `before = run_folders(server)`: a test on a shared server reads its own."""
    return sorted(run_folders(server) - before)
