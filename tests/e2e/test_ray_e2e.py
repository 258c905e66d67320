"""Chromium on the Ray backend: the app's server joins a one-node cluster on 127.0.0.1 that the test
starts (and stops by the processes it started). Train, pause, resume, then Evaluate and Predict."""

import importlib.util
import json
import os

import pytest

from tests.e2e.conftest import Server
from tests.e2e.helpers import assert_no_exception, draw_a_digit, go_to, wait_ready

pytestmark = [
    pytest.mark.xdist_group("ray"),
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None, reason="the cluster extra is not installed (requirements-cluster.txt)"
    ),
]


def test_train_pause_resume_evaluate_and_predict_on_the_ray_backend(browser, tmp_path, ray_cluster):
    from cnn_core.jobs import warm

    warm.drain()  # warm actors of this test process would hold the CPUs the server's jobs need, for up to 10 s
    server = Server(tmp_path / "srv", env=ray_cluster.env()).start()  # the session's loopback cluster (tests/conftest.py)
    page = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
    page.set_default_timeout(120_000)
    try:
        # 30 short epochs (750 training images, 0.35 s an epoch on a fast machine): the pause lands while the
        # actor starts or trains, and the resumed run finishes soon; Predict's canvas wants a 28x28 digits model
        page.goto(f"{server.url}/train?data=mnist-5k&limit=1000&arch=keras-mnist&epochs=30&batch=16")
        wait_ready(page, "Runs train on the Ray cluster at")
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text("Training on the Ray cluster: host").wait_for(timeout=180_000)  # the actor has started
        page.get_by_role("button", name="Pause").click()
        page.get_by_role("button", name="Resume").wait_for(timeout=120_000)
        runs = [p for p in (server.workdir / "runs").iterdir() if p.is_dir()]
        assert len(runs) == 1 and (runs[0] / "checkpoints" / "resume.json").is_file()  # sent back by the worker
        assert json.loads((runs[0] / "status.json").read_text())["status"] == "paused"
        page.get_by_role("button", name="Resume").click()
        page.get_by_text("Training completed").wait_for(timeout=300_000)
        page.get_by_text("Trained on the Ray cluster: host").wait_for()
        assert_no_exception(page)
        status = json.loads((runs[0] / "status.json").read_text())
        assert status["status"] == "completed" and status["worker"]["pid"] not in (server.proc.pid, os.getpid())
        assert len(status["sessions"]) == 2 and (runs[0] / "model.keras").is_file()

        go_to(page, "Evaluate")
        wait_ready(page, "Confusion matrix", timeout=120_000)
        assert_no_exception(page)
        go_to(page, "Predict")
        wait_ready(page, "Draw a digit above", timeout=120_000)
        draw_a_digit(page)
        assert page.get_by_text("Prediction").count() >= 1
        assert_no_exception(page)
    finally:
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        page.context.close()
        server.stop()
