"""One long training run on the app's server, watched on the Train page in headless Chromium for some
stretches and with no page open for the others, alternating (ABBA), so both conditions share the same
process, model and data, and the VM's slow spells fall on both alike."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import median

DATASET, ARCH, BATCH = "mnist-5k", "keras-mnist", 16  # 235 batches an epoch
SEGMENT, SEGMENTS, SETTLE = 8, 8, 2  # epochs per stretch, stretches (page, none, none, page, ...), epochs left out


def _epochs(runs: Path) -> list[dict]:
    from cnn_core.runs.store import RunStore

    folders = [p for p in runs.iterdir() if p.is_dir()] if runs.exists() else []
    return RunStore(runs).read_history(folders[0]) if folders else []


def page_open_versus_none() -> dict:
    """Median images per second of the epochs watched and of the epochs not watched, and their pair ratios."""
    from playwright.sync_api import sync_playwright

    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import DataConfig
    from tests.e2e.conftest import CHROMIUM_ARGS, Server
    from tests.e2e.helpers import wait_ready

    epochs = 1 + SEGMENT * SEGMENTS
    train_size = len(load_dataset(DataConfig(DATASET)).train)
    workdir = Path(tempfile.mkdtemp())
    server = Server(workdir).start()
    watched = [k % 4 in (0, 3) for k in range(SEGMENTS)]  # ABBA
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/train?data={DATASET}&arch={ARCH}&batch={BATCH}&epochs={epochs}")
            wait_ready(page, "Keras MNIST convnet")
            page.get_by_role("button", name="Train", exact=True).click()
            for k, watch in enumerate(watched):
                while len(_epochs(workdir / "runs")) < 1 + SEGMENT * k:  # the first epoch traces: not counted
                    time.sleep(0.1)
                if watch and page is None:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(f"{server.url}/train?run={next((workdir / 'runs').iterdir()).name}")
                elif not watch and page is not None:
                    page.close()
                    page = None
            while len(_epochs(workdir / "runs")) < epochs:
                time.sleep(0.2)
            browser.close()
    finally:
        server.stop()
    seconds = [row["seconds"] for row in _epochs(workdir / "runs")]
    rates = [train_size / (b - a) for a, b in zip(seconds, seconds[1:])]
    # each stretch without its first epochs: the page opens (loading its scripts) or closes during them
    stretch = [median(rates[SEGMENT * k + SETTLE : SEGMENT * (k + 1)]) for k in range(SEGMENTS)]
    pairs = [(stretch[i], stretch[i + 1]) if watched[i] else (stretch[i + 1], stretch[i]) for i in range(0, SEGMENTS, 2)]
    return {
        "points": epochs * -(-train_size // BATCH),
        "with_page": median([a for a, _ in pairs]),
        "without": median([b for _, b in pairs]),
        "ratios": [a / b for a, b in pairs],
    }
