"""AppTest of the Evaluate page's label issues on a real tiny run: the search in the background,
a mark, the version saved; in a class, only on the learner's own runs."""

import shutil
import time

import pytest

from cnn_core.access import classroom
from cnn_core.runs.store import owner_tag, update_config
from tests.app.helpers import metric, open_page

pytestmark = pytest.mark.slow
ADA, BO = "a" * 32, "b" * 32


def run_until(at, done, timeout: float = 180):
    """Rerun the page (as the section's polling does) until `done(at)` holds."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    return at


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_find_mark_and_save_a_version(trained_run):
    at = open_page("evaluate", timeout=120)
    at.number_input(key=f"evaluate.label_folds.{trained_run}").set_value(2)
    at.number_input(key=f"evaluate.label_epochs.{trained_run}").set_value(1).run()
    next(b for b in at.button if b.label.startswith("Find label issues (2 trainings")).click().run()
    run_until(at, lambda a: "label issue(s) among" in captions(a))
    assert "from 2 fold models of 1 epoch(s)" in captions(at)
    marks = [s for s in at.selectbox if s.key and s.key.startswith("evaluate.label_mark.issues.")]
    assert marks and marks[0].options[0] == "no mark" and marks[0].options[1].startswith("relabel to ")
    marks[0].set_value(marks[0].options[-2]).run()  # exclude
    assert any("1 pending mark(s):" in m.value and "1 exclude" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Save as a dataset version").click().run()
    saved = next(s.value for s in at.success if "Saved as dataset version" in s.value)
    assert "shapes@v-" in saved and "Edited images: 1 training" in captions(at)
    tests = metric(at, "Test images")  # an issue is a training image: the test split stays the original's
    assert f"The test split is the original run's {tests} images with the same labels" in captions(at)


@pytest.fixture
def class_runs(trained_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_CLASSROOM", "1")
    monkeypatch.setenv("CNN_STUDIO_CLASS_CODE", "class-code-for-tests")
    monkeypatch.setenv("CNN_STUDIO_TEACHER_CODE", "teacher-code-for-tests")
    runs = tmp_path / "runs"
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(runs))
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    for run_id, owner in (("20260101-000000-ada", ADA), ("20260101-000001-bo", BO)):
        shutil.copytree(source, runs / run_id)
        update_config(runs / run_id, owner=owner_tag(owner), published=True)
    classroom.join(ADA, classroom.LEARNER, "Ada")
    classroom.join(BO, classroom.LEARNER, "Bo")
    return runs


def test_a_learner_fixes_labels_of_their_own_runs_only(class_runs):
    at = open_page("evaluate", timeout=120, session={"owner": ADA, "current_run": "20260101-000001-bo"})
    assert at.selectbox(key="inspect.run.Model").value == "20260101-000001-bo"
    assert any("your own runs only" in i.value for i in at.info)
    assert not [b for b in at.button if b.label.startswith("Find label issues")]
    assert not [s for s in at.selectbox if s.key and s.key.startswith("evaluate.label_mark.")]
    at.selectbox(key="inspect.run.Model").set_value("20260101-000000-ada").run()
    assert not at.exception
    assert [b for b in at.button if b.label.startswith("Find label issues")]
