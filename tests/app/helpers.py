"""AppTest helpers: open the app (optionally on a page) and read elements by label."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.runtime import configure_streamlit

configure_streamlit()  # as scripts/serve.py does for the real server


def open_page(page: str | None = None, timeout: float = 60, session: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    if page:
        at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def texts(at: AppTest, kind: str = "markdown") -> str:
    return "\n".join(e.value for e in getattr(at, kind))
