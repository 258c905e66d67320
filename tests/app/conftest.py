"""AppTest runs app.py in the test process."""

import pytest

from cnn_core.data import storage


@pytest.fixture(autouse=True)
def no_sweeper(request, monkeypatch):
    """app.py starts the hourly upload sweeper, which also sweeps the machine's temporary folder: not
    from the test process, except in the test of that start (tests/app/test_app_sweeper.py)."""
    if request.module.__name__.rsplit(".", 1)[-1] != "test_app_sweeper":
        monkeypatch.setattr(storage, "start_sweeper", lambda *args, **kwargs: False)
