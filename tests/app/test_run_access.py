"""`run_access.find` reaches only a run folder directly inside runs/, named by a strict run id: a
hand-edited `?run=` (or any text a page passes) never leads elsewhere, and gets the same answer as a
run that does not exist."""

import json

import pytest

from ui import run_access, state

OWNER = "a" * 32


@pytest.fixture
def runs(workspace, tmp_path, monkeypatch):
    """runs/ with one real run folder, a hidden one, one named with '..', and a link to a run folder outside."""
    monkeypatch.setattr(state, "owner_id", lambda: OWNER)  # personal mode: this browser sees every run
    root = workspace / "runs"
    for name in ("20260101-000000-minimal-ab12", ".hidden-run", "two..dots"):
        (root / name).mkdir()
        (root / name / "config.json").write_text(json.dumps({"run_id": name}))
    outside = tmp_path / "elsewhere" / "secret-run"
    outside.mkdir(parents=True)
    (outside / "config.json").write_text(json.dumps({"run_id": "secret-run"}))
    (root / "linked-run").symlink_to(outside, target_is_directory=True)
    return root


def test_a_run_id_finds_its_own_folder(runs):
    found = run_access.find("20260101-000000-minimal-ab12")
    assert found is not None and found.path == runs / "20260101-000000-minimal-ab12"


@pytest.mark.parametrize(
    "run_id",
    [
        "..",
        ".",
        "",
        "a/../b",
        "../runs/20260101-000000-minimal-ab12",
        "20260101-000000-minimal-ab12/",
        "20260101-000000-minimal-ab12/..",
        ".hidden-run",
        "two..dots",
        "linked-run",  # a link in runs/ to a run folder outside it
        "no-such-run",
    ],
)
def test_a_hand_edited_run_id_reaches_nothing(runs, run_id):
    assert run_access.find(run_id) is None


def test_an_absolute_path_to_a_run_reaches_nothing(runs):
    assert run_access.find(str(runs / "20260101-000000-minimal-ab12")) is None
    assert run_access.find(str((runs / "linked-run").resolve())) is None


def test_a_damaged_run_without_its_config_is_still_found_and_listed_as_damaged(runs):
    (runs / "20260102-000000-minimal-cd34").mkdir()  # its config.json lost: the Runs page lists it as damaged
    found = run_access.find("20260102-000000-minimal-cd34")
    assert found is not None and found.status == "damaged"
