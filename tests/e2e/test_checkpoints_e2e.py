"""Chromium: pause and resume a run, and a server killed mid-epoch whose run resumes and finishes."""

import json
import re
import time

import pytest

from cnn_core.runs.store import RunStore
from cnn_core.training import checkpoints
from tests.e2e.conftest import Server
from tests.e2e.helpers import LONG_EPOCHS, assert_no_exception, run_folders, runs_since, wait_for_batches, wait_ready

pytestmark = pytest.mark.e2e


def start_training(page, url, epochs):
    page.goto(f"{url}/train")
    wait_ready(page, "Keras MNIST convnet")
    page.get_by_label("Epochs", exact=True).fill(str(epochs))
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Pause").wait_for(timeout=120_000)


def test_pause_then_resume_in_the_browser_continues_the_same_run(page, shared_server):
    server, before = shared_server, run_folders(shared_server)
    start_training(page, server.url, LONG_EPOCHS)
    wait_for_batches(page, 4)
    page.get_by_role("button", name="Pause").click()
    # mid-epoch as a rule; at an epoch's end when the click lands during its validation (an epoch is ~1.5 s here)
    page.get_by_text(re.compile(r"Paused (at batch|at the end of epoch)")).wait_for(timeout=120_000)
    runs = [p for p in runs_since(server, before) if json.loads((p / "status.json").read_text())["status"] == "paused"]
    assert len(runs) == 1 and checkpoints.resume_point(runs[0]) is not None
    page.get_by_role("button", name="Resume").first.click()
    page.get_by_role("button", name="Stop training").wait_for(timeout=120_000)
    time.sleep(2)
    page.get_by_role("button", name="Stop training").click()
    page.get_by_text("Training stopped").wait_for(timeout=120_000)
    assert_no_exception(page)
    sessions = json.loads((runs[0] / "status.json").read_text())["sessions"]
    assert [s["kind"] for s in sessions] == ["start", "resume"]
    epochs = [row["epoch"] for row in RunStore(server.workdir / "runs").read_history(runs[0])]
    assert epochs == sorted(set(epochs))


def test_a_server_killed_mid_epoch_leaves_a_run_that_resumes_and_finishes(browser, tmp_path):
    server = Server(tmp_path / "srv").start()
    page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
    page.set_default_timeout(120_000)
    try:
        start_training(page, server.url, 5)  # killed in epoch 3: resuming trains epochs 3 to 5 (an epoch is 1-1.5 s here)
        runs = server.workdir / "runs"
        while not list(runs.glob("*/checkpoints/epoch-0002.json")):
            time.sleep(0.05)
        time.sleep(0.4)  # into epoch 3
        server.stop(kill=True)
        run_dir = next(runs.iterdir())
        assert RunStore(runs).info(run_dir).status == "interrupted"

        restarted = Server(server.workdir).start()
        try:
            page.goto(f"{restarted.url}/train")  # the same browser: its cookie still says who owns the run
            page.get_by_text("is interrupted after").wait_for()
            page.get_by_role("button", name="Resume").first.click()
            page.get_by_text("Training completed").wait_for(timeout=240_000)
            assert_no_exception(page)
        finally:
            restarted.stop()
        history = [row["epoch"] for row in RunStore(runs).read_history(run_dir)]
        assert history == list(range(1, 6))  # every epoch exactly once
        assert RunStore(runs).info(run_dir).status == "completed"
    finally:
        page.context.close()
        server.stop()
