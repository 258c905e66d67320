"""AppTest of the pages after review: a run's dataset is loaded only when this browser may read it,
run files' words are shown as typed, and run names never become HTML in a chart's legend.

Runs are copies of one trained run with config.json, status.json or metrics.json rewritten the way
an imported zip or a hand-copied folder could have them.
"""

# ruff: noqa: F811 - fixtures imported below are parameters of the tests

import json
import shutil

import pytest

from cnn_core.access import classroom
from cnn_core.runs.store import read_json, update_config, write_json
from tests.app.helpers import open_page
from tests.app.test_classroom_visibility import (  # noqa: F401 - fixtures
    ADA,
    BO,
    RUN_A,
    RUN_B,
    class_runs,
    classroom_mode,
    open_as,
    page_text,
    select,
)
from tests.conftest import make_class_folder

pytestmark = pytest.mark.slow
HOSTILE_NAME = '<a href="https://evil.example">click</a>'
HOSTILE_MESSAGE = "![](http://x/p.png) [Rejoin](http://evil)"


def point_dataset_at(run, folder, kind="folder"):
    config = read_json(run / "config.json")
    update_config(run, data={**config["data"], "dataset_id": f"{kind}:{folder}"})


def shapes_like(folder):
    """Images the trained run's model takes (16x16 RGB, five classes): a load would show them."""
    return make_class_folder(folder, {c: 4 for c in "abcde"}, size=16, rgb=True)


# 2(a). a run's dataset goes through the classroom check before any page loads it


def test_a_run_on_a_server_folder_shows_no_images(class_runs, tmp_path):
    point_dataset_at(class_runs / RUN_B, shapes_like(tmp_path / "server" / "secret"))
    at = open_as(BO, "visualize")
    errors = " ".join(e.value for e in at.error)
    assert "This run cannot be loaded" in errors and "is not among your uploads" in errors, page_text(at)
    assert "curves and metrics still show on Runs" in errors
    assert not at.get("imgs") and not at.radio  # nothing of the folder was shown


def test_a_published_run_on_another_learners_upload_keeps_its_images_private(class_runs):
    point_dataset_at(class_runs / RUN_A, shapes_like(classroom.upload_dir(ADA) / "pets"))
    update_config(class_runs / RUN_A, published=True)
    at = open_as(BO, "evaluate", query={"run": RUN_A})
    errors = " ".join(e.value for e in at.error)
    assert "images stay private to its owner" in errors and "pets" not in errors, page_text(at)
    assert not at.metric  # no test accuracy computed on Ada's images
    runs = open_as(BO, "runs", query={"run": RUN_A})  # the run itself is still there, without a report
    assert any("No report or phone model here" in c.value for c in runs.caption)
    assert not any(b.label.startswith("Write the HTML report") for b in runs.button)


def test_the_teacher_and_the_owner_are_not_refused(class_runs):
    point_dataset_at(class_runs / RUN_A, shapes_like(classroom.upload_dir(ADA) / "pets"))
    at = open_as(ADA, "evaluate")
    assert not any("cannot be loaded" in e.value for e in at.error), page_text(at)


# 4. run files' words: plain text, and findings that would crash a page are never read


def test_a_status_message_from_a_run_file_is_shown_as_typed(class_runs):
    status = read_json(class_runs / RUN_B / "status.json")
    write_json(class_runs / RUN_B / "status.json", {**status, "message": HOSTILE_MESSAGE})
    at = open_as(BO, "runs")
    select(at, [0])
    shown = [c.value for c in at.caption if "Rejoin" in c.value]
    assert shown and "[Rejoin](http" not in shown[0] and "![](" not in shown[0]
    assert "\\[Rejoin\\]" in shown[0]


def test_findings_from_a_run_file_never_break_the_runs_and_evaluate_pages(class_runs):
    metrics = read_json(class_runs / RUN_B / "metrics.json")
    findings = [
        {"title": "Only words [Rejoin](http://evil)", "evidence": "an older finding", "severity": "warning"},
        {"title": "t", "evidence": "e", "explanation": "x", "suggestion": "y", "severity": "critical", "start": 1},
        {"title": "t", "evidence": "e", "explanation": "x", "suggestion": "y", "severity": "error",
         "setting": "learning_rate", "value": "abc"},
    ]  # fmt: skip
    write_json(class_runs / RUN_B / "metrics.json", {**metrics, "diagnosis": findings})
    at = open_as(BO, "runs")
    select(at, [0])  # KeyError 'explanation' before
    boxes = [w.value for w in at.warning if "Only words" in w.value]
    assert boxes and "[Rejoin](http" not in boxes[0] and "\\[Rejoin\\]" in boxes[0]
    assert not any("abc" in b.label for b in at.button)  # no button that puts 'abc' into the settings
    assert not any(e.value.startswith("**t.**") for e in at.error)  # the unknown severity is dropped
    evaluate = open_as(BO, "evaluate")
    assert any("Only words" in w.value for w in evaluate.warning)


def test_marks_take_a_finding_with_an_unknown_severity():
    from ui import diagnosis_view

    (mark,) = diagnosis_view.marks([{"title": "<b>x</b>: y", "severity": "critical", "start": 1.0}])
    assert mark["label"] == "&lt;b&gt;x&lt;/b&gt;" and mark["colour"] == diagnosis_view.COLOURS["info"]


# 5. run names never become HTML in Plotly's legend


@pytest.fixture
def named_runs(trained_runs, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    for suffix in ("a", "b"):
        shutil.copytree(source, runs / f"{source.name}-{suffix}")
    update_config(runs / f"{source.name}-a", name=HOSTILE_NAME)
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(runs))
    return runs


def trace_names(at) -> list[str]:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return [t.get("name", "") for t in spec["data"]]


def test_a_run_name_in_the_comparison_chart_is_escaped(named_runs):
    at = open_page("runs")
    select(at, [0, 1])
    names = " ".join(trace_names(at))
    assert "&lt;a href=" in names and "<a href" not in names


def test_a_run_name_drawn_beside_the_live_curves_is_escaped(named_runs):
    from streamlit.testing.v1 import AppTest

    def script():
        import json

        import streamlit as st

        from ui import train_tools

        st.text(json.dumps(list(train_tools.ghost_runs(None))))

    at = AppTest.from_function(script, default_timeout=60)
    at.session_state["train.ghosts"] = [p.name for p in named_runs.iterdir()]
    at.run()
    assert not at.exception, at.exception
    labels = json.loads(at.text[0].value)
    assert len(labels) == 2 and any(label.startswith("&lt;a href=") for label in labels), labels
    assert not any("<a" in label for label in labels)
