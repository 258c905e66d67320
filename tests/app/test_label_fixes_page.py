"""AppTest of the Evaluate page's other ways to fix labels: marks from the hardest examples and the
misclassified gallery, saved as a version, "Train on the corrected data" drawn beside the run, and
what the page says a version did to the test split."""

import shutil

import pytest

from cnn_core.data import versions
from cnn_core.data.datasets import load_dataset
from cnn_core.jobs.registry import JOBS
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import DataConfig
from tests.app.helpers import metric, open_page, texts
from ui.label_compare import note_on_test_split

pytestmark = pytest.mark.slow


@pytest.fixture
def own_run(trained_runs, workspace):
    """A copy of the shared tiny run (shapes) in this test's runs folder: a corrected run lands beside it."""
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    shutil.copytree(source, workspace / "runs" / source.name)
    return source.name


def mark_boxes(at, where: str) -> list:
    return [s for s in at.selectbox if s.key and s.key.startswith(f"evaluate.label_mark.{where}.")]


def mark_hardest_and_a_mistake(at) -> tuple:
    """Relabel the hardest training image to its predicted class, exclude one misclassified test image."""
    hardest, mistakes = mark_boxes(at, "hardest-train"), mark_boxes(at, "mistakes")
    assert hardest and mistakes
    relabel = hardest[0].options[1]  # the model's guess first, after "no mark"
    assert relabel.startswith("relabel to ")
    hardest[0].set_value(relabel).run()
    mark_boxes(at, "mistakes")[0].set_value("exclude").run()
    assert not at.exception
    return int(hardest[0].key.rsplit(".", 1)[1]), relabel.removeprefix("relabel to "), int(mistakes[0].key.rsplit(".", 1)[1])


def test_marks_from_the_hardest_examples_and_the_mistakes_land_in_the_pending_edits(own_run):
    at = open_page("evaluate", timeout=120)
    train_key, to, test_key = mark_hardest_and_a_mistake(at)
    pending = at.session_state["evaluate.label_marks.shapes"]
    assert pending == {train_key: {"key": train_key, "action": "relabel", "to": to},
                       test_key: {"key": test_key, "action": "exclude"}}  # fmt: skip
    assert any("2 pending mark(s):" in m.value and "1 relabel, 1 exclude" in m.value for m in at.markdown)
    assert "1 of them on test images" in texts(at, "caption")
    mark_boxes(at, "mistakes")[0].set_value("no mark").run()  # taking a mark back
    assert list(at.session_state["evaluate.label_marks.shapes"]) == [train_key]


def test_train_on_the_corrected_data_beside_the_original(own_run):
    at = open_page("evaluate", timeout=120)
    train_key, to, test_key = mark_hardest_and_a_mistake(at)
    next(b for b in at.button if b.label == "Save as a dataset version").click().run()
    version = at.session_state[f"evaluate.label_saved.{own_run}"]
    before = int(metric(at, "Test images").replace(",", ""))  # the original run's test split
    note = texts(at, "caption")
    assert "Edited images: 1 training, 0 validation, 1 test." in note
    assert f"Of the original run's {before:,} test images, this version excludes 1, leaving {before - 1:,}: " in note
    assert "same images" not in note
    next(b for b in at.button if b.label == "Train on the corrected data").click().run(timeout=120)
    assert not at.exception and not at.error
    corrected = at.session_state[f"evaluate.label_variant.{own_run}.{version}"]
    JOBS.get(corrected).wait(120)
    at.run()
    assert not at.exception
    assert read_json(RunStore().resolve(corrected) / "config.json")["data"]["dataset_id"] == version
    assert any(f"against the corrected run `{corrected}`" in m.value and "(completed)" in m.value for m in at.markdown)
    chart = next(c for c in at.get("plotly_chart") if corrected in c.proto.spec)
    assert f"{own_run} (original)" in chart.proto.spec and f"{corrected} (corrected)" in chart.proto.spec
    accuracies = {m.label: m.value for m in at.metric if m.label.startswith("Test accuracy, ")}
    assert set(accuracies) == {f"Test accuracy, {own_run} (original)", f"Test accuracy, {corrected} (corrected)"}
    assert all(v.endswith("%") for v in accuracies.values()), accuracies
    assert not [b for b in at.button if b.label == "Train on the corrected data"]


@pytest.mark.parametrize(
    "actions, says",
    [
        (["keep"], "The test split is the original run's {n:,} images with the same labels, so the two runs' test "
                   "accuracies compare directly."),
        (["relabel"], "Of the original run's {n:,} test images, this version relabels 1: the corrected run's test "
                      "accuracy is measured against other labels than the original's"),
        (["relabel", "exclude", "exclude"], "Of the original run's {n:,} test images, this version relabels 1 and "
                                            "excludes 2, leaving {left:,}: the corrected run's test accuracy is measured "
                                            "on fewer images and against other labels than the original's"),
    ],
    ids=["kept", "relabelled", "relabelled-and-excluded"],
)  # fmt: skip
def test_the_note_on_the_test_split_says_what_the_version_did_to_it(actions, says):
    base = load_dataset(DataConfig("digits"))
    keys, labels = base.test.keys, base.test.labels
    edits = [
        {"key": int(keys[i]), "action": a} | ({"to": base.class_names[(int(labels[i]) + 1) % 10]} if a == "relabel" else {})
        for i, a in enumerate(actions)
    ]
    version = load_dataset(DataConfig(versions.derive("digits", edits, base)))
    left = len(base.test) - actions.count("exclude")
    assert note_on_test_split(version).startswith(says.format(n=len(base.test), left=left))
