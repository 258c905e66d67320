"""app.py starts the upload sweeper (`storage.start_sweeper`) once per server process, so `streamlit run
app.py` sweeps as `cnn-studio serve` does; the sweep itself is tested in tests/core/test_storage.py."""

import tempfile
from pathlib import Path

from cnn_core.data import storage
from tests.app.helpers import open_page
from tests.conftest import wait_until


def test_the_app_starts_the_upload_sweeper_once(monkeypatch, workspace):
    swept = []
    monkeypatch.setattr(storage, "_sweeper", None)  # as in a fresh server process
    monkeypatch.setattr(storage, "sweep", lambda **folders: swept.append(folders))
    open_page("runs")
    thread = storage._sweeper
    assert thread is not None and thread.is_alive() and thread.daemon
    open_page("runs")  # another session's first run: the same thread
    assert storage._sweeper is thread
    wait_until(lambda: swept, timeout=5)  # it sweeps once at start, then sleeps for an hour
    assert swept == [{"data": workspace / "data", "runs": workspace / "runs", "temp": Path(tempfile.gettempdir())}]
