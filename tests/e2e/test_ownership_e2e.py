"""Chromium, two browsers: a copied run link shares the view, never the control; the owner's reload keeps it."""

import json

import pytest

from tests.e2e.helpers import LONG_EPOCHS, assert_no_exception, run_folders, runs_since, wait_for_batches, wait_ready

pytestmark = pytest.mark.e2e


def test_a_copied_run_link_watches_read_only_and_the_owners_reload_keeps_control(browser, shared_server):
    server, before = shared_server, run_folders(shared_server)
    owner_ctx, other_ctx = (browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2))
    owner, other = owner_ctx.new_page(), other_ctx.new_page()
    for pg in (owner, other):
        pg.set_default_timeout(60_000)
    try:
        owner.goto(f"{server.url}/train")
        wait_ready(owner, "Keras MNIST convnet")
        owner.get_by_label("Epochs", exact=True).fill(LONG_EPOCHS)
        owner.get_by_role("button", name="Train", exact=True).click()
        owner.get_by_role("button", name="Stop training").wait_for(timeout=120_000)
        wait_for_batches(owner, 4)
        link = owner.url
        assert "run=" in link

        other.goto(link)  # another browser opens the copied address
        other.get_by_text("started in another browser session").wait_for(timeout=60_000)
        wait_for_batches(other, 4, 60_000)  # it watches the same live view
        assert other.get_by_role("button", name="Stop training").count() == 0
        assert other.get_by_role("button", name="Train", exact=True).is_enabled()  # free to start its own run

        owner.reload()  # the owner's tab reloads: a new Streamlit session, the same browser
        owner.get_by_role("button", name="Stop training").wait_for(timeout=60_000)
        assert owner.get_by_text("started in another browser session").count() == 0

        owner.get_by_role("button", name="Stop training").click()
        owner.get_by_text("Training stopped").wait_for(timeout=120_000)
        other.get_by_text("Training stopped").wait_for(timeout=60_000)
        for pg in (owner, other):
            assert_no_exception(pg)
        (run,) = runs_since(server, before)  # one run, the owner's, seen by both
        assert json.loads((run / "status.json").read_text())["status"] == "stopped"
    finally:
        owner_ctx.close()
        other_ctx.close()
