"""AppTest of the Runs page: the list, one run's actions, comparing, and damaged folders."""

import shutil

import pytest

from cnn_core.runs.store import owner_tag, update_config
from tests.app.helpers import open_page

OWNER = "0123456789abcdef0123456789abcdef"  # this test session's owner id

pytestmark = pytest.mark.slow


@pytest.fixture
def two_runs(trained_runs, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    shutil.copytree(source, runs / source.name)
    shutil.copytree(source, runs / (source.name + "-b"))
    for path in runs.iterdir():
        update_config(path, owner=owner_tag(OWNER))
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(runs))
    return runs


def select(at, rows):
    at.session_state["runs.table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run(timeout=120)
    assert not at.exception


def test_list_select_one_rename_and_delete_with_confirmation(two_runs):
    at = open_page("runs", session={"owner": OWNER})
    table = at.dataframe[0].value
    assert len(table) == 2 and set(table["status"]) == {"completed"}
    select(at, [0])
    assert any(b.label == "Make this the current model" for b in at.button)
    at.text_input[0].input("my best run")
    next(b for b in at.button if b.label == "Save name and note").click().run()
    assert "my best run" in at.dataframe[0].value["name"].tolist()
    next(b for b in at.button if b.label == "Delete this run…").click().run()
    assert "cannot be undone" in at.warning[0].value
    next(b for b in at.button if b.label == "Yes, delete it").click().run()
    assert len(at.dataframe[0].value) == 1


def test_compare_two_runs_shows_settings_side_by_side(two_runs):
    at = open_page("runs")
    select(at, [0, 1])
    assert "Comparing 2 runs" in at.subheader[0].value
    settings = at.dataframe[1].value
    assert "train.epochs" in settings.index and settings.shape[1] == 2


def test_damaged_and_interrupted_folders_never_break_the_page(two_runs):
    (two_runs / "broken").mkdir()
    (two_runs / "broken" / "config.json").write_text("{not json")
    victim = next(p for p in two_runs.iterdir() if p.name.endswith("-b"))
    (victim / "status.json").write_text('{"status": "running", "pid": 999999999}')
    (victim / "history.csv").write_text("epoch,loss\n1,0.5\n2,")
    at = open_page("runs")
    statuses = dict(zip(at.dataframe[0].value["run"], at.dataframe[0].value["status"]))
    assert statuses["broken"] == "damaged" and statuses[victim.name] == "interrupted"
    select(at, [list(statuses).index("broken")])
    assert "damaged" in at.error[0].value


def test_another_sessions_run_can_be_inspected_but_not_changed(two_runs):
    at = open_page("runs", session={"owner": "f" * 32})
    select(at, [0])
    labels = [b.label for b in at.button]
    assert "Make this the current model" in labels and "Delete this run…" not in labels
    assert not any(b.label == "Save name and note" for b in at.button)
    assert "belongs to another browser session" in " ".join(c.value for c in at.caption)
