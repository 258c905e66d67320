"""AppTest of classroom mode's visibility: whose runs each browser sees, publishing, links, server folders.

Two learners (Ada and Bo) and a teacher join through `classroom.join` with owner ids the test
chooses; each learner owns a copy of one trained run (config.json's owner rewritten, nothing
trained again).
"""

import shutil

import pytest

from cnn_core.access import classroom
from cnn_core.runs.store import owner_tag, read_json, update_config
from tests.app.helpers import open_page
from tests.conftest import make_class_folder

ADA, BO, TEACHER = "a" * 32, "b" * 32, "c" * 32
RUN_A, RUN_B = "20260101-000000-ada", "20260101-000001-bo"

pytestmark = pytest.mark.slow


@pytest.fixture
def classroom_mode(monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_CLASSROOM", "1")
    monkeypatch.setenv("CNN_STUDIO_CLASS_CODE", "class-code-for-tests")
    monkeypatch.setenv("CNN_STUDIO_TEACHER_CODE", "teacher-code-for-tests")
    monkeypatch.delenv("CNN_STUDIO_DATA_ROOTS", raising=False)


@pytest.fixture
def class_runs(classroom_mode, trained_runs, tmp_path, monkeypatch):
    """A runs folder with one run of Ada's and one of Bo's; Ada, Bo and the teacher have joined."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(runs))
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    for run_id, owner in ((RUN_A, ADA), (RUN_B, BO)):
        shutil.copytree(source, runs / run_id)
        update_config(runs / run_id, owner=owner_tag(owner))
    classroom.join(ADA, classroom.LEARNER, "Ada")
    classroom.join(BO, classroom.LEARNER, "Bo")
    classroom.join(TEACHER, classroom.TEACHER, "Ms T")
    return runs


def open_as(owner, page, query=None, **kwargs):
    """Open `page` as the browser `owner` (optionally through a link's query)."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    if query is None:
        return open_page(page, session={"owner": owner}, **kwargs)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=kwargs.get("timeout", 60))
    at.session_state["owner"] = owner
    at.query_params.update(query)
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def table_runs(at) -> list[str]:
    return at.dataframe[0].value["run"].tolist()


def page_text(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "info", "subheader") for e in getattr(at, kind)]
    return "\n".join(map(str, parts))


def select(at, rows):
    at.session_state["runs.table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run(timeout=120)
    assert not at.exception


def test_a_learner_sees_only_their_own_runs_until_another_publishes(class_runs):
    at = open_as(BO, "runs")
    assert table_runs(at) == [RUN_B]
    assert RUN_A not in page_text(at) and RUN_A not in at.dataframe[0].value.to_string()

    ada = open_as(ADA, "runs")
    select(ada, [0])
    assert ada.toggle(key=f"runs.publish.{RUN_A}").value is False
    ada.toggle(key=f"runs.publish.{RUN_A}").set_value(True).run()
    assert read_json(class_runs / RUN_A / "config.json")["published"] is True

    at = open_as(BO, "runs")
    owners = dict(zip(table_runs(at), at.dataframe[0].value["owner"]))
    assert owners == {RUN_A: "Ada · published to the class", RUN_B: "you"}
    select(at, [table_runs(at).index(RUN_A)])
    labels = [b.label for b in at.button]
    assert "Make this the current model" in labels and "Delete this run…" not in labels
    assert not any(b.label in ("Save name and note", "Resume this run") or "more epochs" in b.label for b in at.button)
    assert not at.toggle  # only the owner and the teacher may unpublish it
    assert any(d.label == "model.keras" for d in at.get("download_button"))  # a published run may be downloaded
    assert "published to the class by its owner" in page_text(at)


def test_the_teachers_published_runs_are_examples(class_runs):
    update_config(class_runs / RUN_A, owner=owner_tag(TEACHER), published=True)
    at = open_as(BO, "runs")
    assert dict(zip(table_runs(at), at.dataframe[0].value["owner"]))[RUN_A] == "Ms T · example from the teacher"


def test_the_teacher_sees_every_run_and_may_change_and_delete_them(class_runs):
    (class_runs / "broken").mkdir()
    (class_runs / "broken" / "config.json").write_text("{not json")
    at = open_as(TEACHER, "runs")
    owners = dict(zip(table_runs(at), at.dataframe[0].value["owner"]))
    assert owners[RUN_A] == "Ada · private" and owners[RUN_B] == "Bo · private" and "broken" in owners
    select(at, [table_runs(at).index(RUN_A)])
    assert any(b.label == "Delete this run…" for b in at.button)
    assert any(b.label == "Save name and note" for b in at.button)
    at.toggle(key=f"runs.publish.{RUN_A}").set_value(True).run()  # a live demo for the class
    assert read_json(class_runs / RUN_A / "config.json")["published"] is True
    select(at, [table_runs(at).index("broken")])
    assert any(b.label == "Delete this run…" for b in at.button)


def test_a_damaged_run_without_an_owner_is_hidden_from_learners(class_runs):
    (class_runs / "broken").mkdir()
    (class_runs / "broken" / "config.json").write_text("{not json")
    (class_runs / RUN_B / "metrics.json").write_text("{not json")  # damaged, but its owner is still known
    at = open_as(ADA, "runs")
    assert table_runs(at) == [RUN_A]
    bo = open_as(BO, "runs")
    assert table_runs(bo) == [RUN_B]
    select(bo, [0])
    assert "damaged" in bo.error[0].value and any(b.label == "Delete this run…" for b in bo.button)


def test_a_link_to_a_run_that_is_not_visible_says_so_and_shows_nothing_of_it(class_runs):
    at = open_as(BO, "runs", query={"run": RUN_A})
    assert f"no run `{RUN_A}` that you can see" in at.error[0].value
    assert table_runs(at) == [RUN_B] and not at.subheader
    own = open_as(BO, "runs", query={"run": RUN_B})  # a link to a visible run opens it
    assert own.subheader[0].value == RUN_B and not own.error
    missing = open_as(BO, "runs", query={"run": "no-such-run"})
    assert "no run `no-such-run` that you can see" in missing.error[0].value  # the same words as someone else's
    hostile = open_as(BO, "runs", query={"run": "x` [link](http://a.example) `"})
    assert "`` x` [link](http://a.example) ` ``" in hostile.error[0].value  # a link's text stays text


def test_the_run_picker_offers_only_visible_runs_and_refuses_a_link(class_runs):
    at = open_as(BO, "predict", query={"run": RUN_A}, timeout=120)
    assert f"no run `{RUN_A}` that you can see" in at.error[0].value
    picker = at.selectbox(key="inspect.run.Model")
    assert picker.options and all(RUN_A not in o for o in picker.options) and picker.value == RUN_B
    assert at.session_state["current_run"] == RUN_B

    update_config(class_runs / RUN_A, published=True)
    at = open_as(BO, "predict", query={"run": RUN_A}, timeout=120)
    assert not at.error and at.selectbox(key="inspect.run.Model").value == RUN_A
    assert any(RUN_A in o and "Ada · published to the class" in o for o in at.selectbox(key="inspect.run.Model").options)


def test_a_session_whose_current_run_is_not_visible_falls_back_to_its_own(class_runs):
    at = open_page("evaluate", timeout=120, session={"owner": BO, "current_run": RUN_A})
    assert at.selectbox(key="inspect.run.Model").value == RUN_B
    assert RUN_A not in page_text(at)


def test_personal_mode_shows_every_run_and_deletes_only_ownerless_damaged_ones(class_runs, monkeypatch):
    monkeypatch.delenv("CNN_STUDIO_CLASSROOM")
    (class_runs / "broken").mkdir()
    (class_runs / "broken" / "config.json").write_text("{not json")
    (class_runs / RUN_A / "metrics.json").write_text("{not json")
    at = open_as(BO, "runs")
    assert set(table_runs(at)) == {RUN_A, RUN_B, "broken"} and "owner" not in at.dataframe[0].value
    select(at, [table_runs(at).index("broken")])
    assert any(b.label == "Delete this run…" for b in at.button)
    select(at, [table_runs(at).index(RUN_A)])  # damaged, and Ada's: not Bo's to delete
    assert not any(b.label == "Delete this run…" for b in at.button) and not at.toggle


def own_folder(at):
    at.selectbox(key="data.dataset_id").set_value("own").run()
    return at.radio(key="data.own_source").options


def test_a_server_folder_is_offered_only_under_the_data_roots(classroom_mode, tmp_path, monkeypatch):
    classroom.join(ADA, classroom.LEARNER, "Ada")
    at = open_as(ADA, "data")
    assert "A folder path on the server" not in own_folder(at)  # no roots: no field

    root, outside = tmp_path / "class-data", make_class_folder(tmp_path / "secret", {"a": 5, "b": 5})
    make_class_folder(root / "pets", {"cat": 5, "dog": 5})
    monkeypatch.setenv("CNN_STUDIO_DATA_ROOTS", str(root))
    at = open_as(ADA, "data")
    assert "A folder path on the server" in own_folder(at)
    at.radio(key="data.own_source").set_value("A folder path on the server").run()
    at.text_input(key="data.folder").input(str(outside)).run()
    assert not at.exception and "outside the folders this class may read" in at.error[0].value
    assert not at.metric  # nothing of it was loaded
    at.text_input(key="data.folder").input(str(root / "pets")).run()
    assert not at.error and next(m.value for m in at.metric if m.label == "Classes") == "2"


def test_a_link_to_another_learners_upload_is_refused(classroom_mode, workspace):
    classroom.join(ADA, classroom.LEARNER, "Ada")
    classroom.join(BO, classroom.LEARNER, "Bo")
    theirs = make_class_folder(classroom.upload_dir(ADA) / "pets", {"cat": 5, "dog": 5})
    at = open_as(BO, "data", query={"data": f"folder:{theirs}"})
    assert "not among your uploads" in at.error[0].value and not at.metric
    assert at.session_state["data_config"]["dataset_id"] == "mnist-5k"  # nothing else will load it either
    mine = open_as(ADA, "data", query={"data": f"folder:{theirs}"})
    assert not mine.error and next(m.value for m in mine.metric if m.label == "Classes") == "2"


def test_only_the_teacher_may_place_a_dataset_file(classroom_mode):
    classroom.join(ADA, classroom.LEARNER, "Ada")
    classroom.join(TEACHER, classroom.TEACHER, "Ms T")
    learner = open_as(ADA, "data")
    learner.selectbox(key="data.dataset_id").set_value("mnist").run()
    assert not learner.get("file_uploader")
    assert any("The teacher can place a copy of mnist.npz" in c.value for c in learner.caption)
    teacher = open_as(TEACHER, "data")
    teacher.selectbox(key="data.dataset_id").set_value("mnist").run()
    assert teacher.get("file_uploader")


@pytest.mark.parametrize("page", ["train", "model"])
def test_a_link_straight_to_a_model_page_cannot_read_another_learners_upload(class_runs, page):
    """The upload check holds wherever the link lands, not only on the Data page."""
    folder = make_class_folder(classroom.upload_dir(ADA) / "pets", {"cats": 4, "dogs": 4})
    at = open_as(BO, page, query={"data": f"folder:{folder}"})
    assert any("not among your uploads" in e.value for e in at.error), page_text(at)
    assert "cats" not in page_text(at)
    own = open_as(ADA, page, query={"data": f"folder:{folder}"})
    assert not any("not among your uploads" in e.value for e in own.error)
    assert "**Dataset:** pets" in page_text(own)  # the owner's own upload loads
