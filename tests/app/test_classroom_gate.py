"""The classroom gate (AppTest): a browser without a code sees the join page and nothing else; wrong
codes are refused and limited; the right one admits; the Teacher page is the teacher's. And a link's
own text in a notice is shown as typed, never as a link or an image."""

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from cnn_core.access import classroom
from cnn_core.runs.store import RunStore
from tests.app.helpers import configure_streamlit  # noqa: F401 - applies the runtime patches
from tests.conftest import ROOT

CLASS_CODE, TEACHER_CODE = "maple-7", "oak-9"


@pytest.fixture
def class_mode(monkeypatch):
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, CLASS_CODE)
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, TEACHER_CODE)
    monkeypatch.setattr(classroom, "ATTEMPTS", classroom.AttemptLimiter(limit=3, window=60))


def open_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def join(at: AppTest, code: str, name: str = "") -> AppTest:
    at.text_input(key="classroom.code").input(code)
    at.text_input(key="classroom.name").input(name)
    next(b for b in at.button if b.label == "Join").click().run()
    assert not at.exception, at.exception
    return at


def kinds(block) -> list[str]:
    """The element types drawn in a block, depth first."""
    found = []
    for child in block.children.values():
        found.append(type(child).__name__ if not hasattr(child, "children") else getattr(child, "type", "Block"))
        if hasattr(child, "children"):
            found += kinds(child)
    return found


def test_without_a_code_only_the_join_page_is_drawn(class_mode, workspace):
    run = RunStore().new_run({"name": "secret-run"}, "lenet")
    at = open_app()
    assert [t.value for t in at.title] == ["Join the class"]
    assert [t.label for t in at.text_input] == ["Code", "Your name"]
    # one sentence, the form, and the cookie script that keeps this browser's identity: nothing else
    assert [k for k in kinds(at.main) if k not in ("horizontal", "vertical", "column", "flex_container")] == [
        "Title", "Markdown", "form", "TextInput", "TextInput", "Button", "Html"
    ]  # fmt: skip
    assert not at.sidebar.children
    assert "owner" in at.session_state and at.session_state["owner"] in at.get("html")[0].proto.body
    assert run.name not in str(at._tree) and "mnist" not in str(at._tree).lower()


def test_a_wrong_code_is_refused_and_too_many_make_the_address_wait(class_mode):
    at = join(open_app(), "maple-8", "Ada")
    assert "not this class's code" in at.error[0].value and at.title[0].value == "Join the class"
    join(at, "guess")
    join(at, "guess-again")
    at = join(at, CLASS_CODE, "Ada")  # the right code, but this address must wait first
    assert "Too many wrong codes" in at.error[0].value and "wait" in at.error[0].value
    assert at.title[0].value == "Join the class" and not classroom.members()


def test_the_class_code_admits_a_learner_with_a_name(class_mode):
    at = join(open_app(), f" {CLASS_CODE} ", "Ada")
    assert not at.error and at.title[0].value != "Join the class"
    assert "Teacher" not in [t.value for t in at.title]
    card = "\n".join(m.value for m in at.sidebar.markdown)
    assert "**Class:** `Ada` (learner)" in card
    assert [(m.name, m.role) for m in classroom.members()] == [("Ada", classroom.LEARNER)]
    at.text_input(key="classroom.rename").input("Ada L.").run()
    assert classroom.members()[0].name == "Ada L."
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in a learner's navigation
        at.switch_page("pages/teacher.py")


def test_a_link_with_the_code_joins_directly_and_the_code_leaves_the_address(class_mode):
    at = open_app({"code": CLASS_CODE, "data": "shapes"})
    assert at.title[0].value != "Join the class" and not at.warning  # `code` is not reported as an unknown setting
    assert "code" not in at.query_params and at.query_params["data"] == "shapes"
    assert at.session_state["data_config"]["dataset_id"] == "shapes"  # the rest of the link still applies
    assert "(learner)" in "\n".join(m.value for m in at.sidebar.markdown)


def test_the_teacher_gets_the_teacher_page_with_limits_and_the_class(class_mode):
    learner = join(open_app(), CLASS_CODE, "Ada")
    assert learner.title[0].value != "Join the class"
    at = join(open_app(), TEACHER_CODE, "Ms Rivera")
    at.switch_page("pages/teacher.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Teacher"
    assert f"?code={CLASS_CODE}" in at.code[0].value and TEACHER_CODE not in str(at._tree)
    assert "Ada" in [t.value for t in at.text] and "no run yet" in [t.value for t in at.text]
    limit = at.number_input(key="teacher.limit.queued_runs")
    assert limit.value == classroom.Limits().queued_runs
    limit.set_value(0)
    next(b for b in at.button if b.label == "Save the limits").click().run()
    assert classroom.limits().queued_runs == 0 and "Saved" in at.success[0].value
    next(b for b in at.button if b.label == "Back to the server's limits").click().run()
    assert classroom.limits() == classroom.env_limits()


HOSTILE = {"[x](http://evil.example)": "1", "![img](http://evil.example/i.png)": "2", "arch": "`a`](http://evil.example)"}


def test_link_text_in_a_notice_is_shown_as_typed_never_as_a_link_or_image():
    at = open_app(HOSTILE)
    text = at.warning[0].value
    html = MarkdownIt("commonmark").render(text)
    assert "<a" not in html and "<img" not in html and "evil.example" in html
    assert "<a" in MarkdownIt("commonmark").render("- [x](http://evil.example)='1'")  # the check can see one
