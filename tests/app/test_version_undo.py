"""AppTest of the Data page's Undo for a version's edit: it selects the derived version, and undoing
the last edit gives back the original dataset."""

import pytest

from cnn_core.data import versions
from cnn_core.data.datasets import load_dataset
from cnn_core.settings.config import DataConfig
from tests.app.helpers import metric, open_page

pytestmark = pytest.mark.slow


def undo(at, version: str, key) -> None:
    """Pick the edit of `key` in the version's Undo box and press Undo."""
    index = next(i for i, e in enumerate(versions.edits_of(version)) if e["key"] == key)
    at.selectbox(key=f"data.undo_pick.{version}").set_value(index).run()
    at.button(key=f"data.undo.{version}").click().run()
    assert not at.exception and not at.error


def sizes(at) -> tuple[str, str, str]:
    return tuple(metric(at, f"{split} images") for split in ("Train", "Validation", "Test"))


def test_undo_an_edit_then_the_last_one_gives_back_the_original():
    base = load_dataset(DataConfig("digits"))
    train_key, test_key = int(base.train.keys[0]), int(base.test.keys[0])
    to = base.class_names[(int(base.train.labels[0]) + 1) % base.num_classes]
    edits = [{"key": train_key, "action": "relabel", "to": to}, {"key": test_key, "action": "exclude"}]
    version = versions.derive("digits", edits, base)
    at = open_page("data", session={"data_config": {"dataset_id": version}})
    original = (f"{len(base.train):,}", f"{len(base.validation):,}", f"{len(base.test):,}")
    assert sizes(at) == (*original[:2], f"{len(base.test) - 1:,}")  # the excluded test image is gone

    undo(at, version, test_key)
    derived = at.session_state["data_config"]["dataset_id"]
    assert derived == versions.undo(version, test_key) and versions.edits_of(derived) == edits[:1]
    assert any(f"Undid the edit of {test_key}: now using {derived}." in s.value for s in at.success)
    assert at.selectbox(key="data.version_shown.digits").value == derived  # the version now in use is shown
    assert sizes(at) == original

    undo(at, derived, train_key)
    assert at.session_state["data_config"]["dataset_id"] == "digits"
    assert any(f"Undid the edit of {train_key}: now using digits." in s.value for s in at.success)
    assert sizes(at) == original
    table = next(m.value for m in at.markdown if "<table" in m.value)  # the class counts, as the original's
    assert all(f">{n:,}<" in table for n in base.counts()["train"])
