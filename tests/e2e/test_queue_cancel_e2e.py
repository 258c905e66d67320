"""Chromium: a run waiting in the queue shows a Cancel button to its owner; Cancel frees its place at once."""

import json

import pytest

from tests.e2e.helpers import LONG_EPOCHS, assert_no_exception, run_folders, runs_since, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py): one job trains at a time there."""
    return shared_server


def train(page, server, epochs: str) -> None:
    page.goto(f"{server.url}/train")
    wait_ready(page, "Keras MNIST convnet")
    page.get_by_label("Epochs", exact=True).fill(epochs)
    page.get_by_role("button", name="Train", exact=True).click()


def test_a_queued_run_is_cancelled_by_its_owner(browser, server):
    before = run_folders(server)
    first, second = (browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2))
    try:
        alice, bob = first.new_page(), second.new_page()
        train(alice, server, LONG_EPOCHS)
        alice.get_by_role("button", name="Stop training").wait_for(timeout=120_000)
        train(bob, server, "3")
        bob.get_by_text("number 1 in the queue").wait_for(timeout=60_000)
        assert bob.get_by_role("button", name="Stop training").count() == 0
        bob.get_by_role("button", name="Cancel", exact=True).click()
        bob.get_by_text("cancelled before it started").wait_for(timeout=30_000)
        assert_no_exception(bob)
        runs = {p.name: json.loads((p / "status.json").read_text()) for p in runs_since(server, before)}
        assert sorted(s["status"] for s in runs.values()) == ["running", "stopped"]
        assert [s["message"] for s in runs.values() if s["status"] == "stopped"] == ["cancelled before it started"]
        alice.get_by_role("button", name="Stop training").click()
        alice.get_by_text("Training stopped").wait_for(timeout=120_000)
        assert_no_exception(alice)
    finally:
        first.close()
        second.close()
