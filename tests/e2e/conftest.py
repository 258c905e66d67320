"""A real Streamlit server on a free loopback port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` in a subprocess with its own runs and data folders."""

    def __init__(self, workdir: Path, env: dict | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "CNN_STUDIO_RAY_ADDRESS"},  # a test that wants a cluster says so
            "CNN_STUDIO_RUNS_DIR": str(workdir / "runs"),
            "CNN_STUDIO_DATA_DIR": str(workdir / "data"),
            "KERAS_HOME": str(workdir / "keras"),
            **(env or {}),
        }
        self.log = workdir / "server.log"
        self.proc = None

    def start(self, timeout: float = 60) -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "scripts/serve.py",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"streamlit did not start: {self.log.read_text()[-2000:]}")

    def stop(self, kill: bool = False, grace: float = 5) -> None:
        """Terminate the server (or kill it); one still alive after `grace` seconds is killed. (Seen
        here: a server that has trained often hangs at exit, in the interpreter's last garbage
        collection; nothing a test checks happens after the signal.)"""
        if self.proc and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing under CI: `make test` installs it (scripts/ensure-packages.sh)")
        pytest.skip("Debian's chromium is not installed: run `make test-packages`")
    return path


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("server")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """One server per test session (per xdist worker) for the files whose tests need no environment
    of their own and leave nothing running: it starts, and imports TensorFlow for its first run,
    once instead of once per file. One job trains at a time (the queue test needs it; the others
    train one run each). A test on it reads only the runs it made (`helpers.runs_since`)."""
    srv = Server(tmp_path_factory.mktemp("shared"), env={"CNN_STUDIO_MAX_JOBS": "1"}).start()
    yield srv
    srv.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Mark a test that failed with the phase it failed in (`item.failed_in`), for the `page` fixture's teardown."""
    report = yield
    if report.failed:
        item.failed_in = report.when
    return report


def save_screenshot(page, name: str) -> None:
    """A full-page screenshot in test-artifacts/, to see what a failed test saw."""
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True, timeout=120_000)


@pytest.fixture
def page(browser, request):
    """A page in a new browser context (a visitor of its own). When the test fails, its screenshot is
    saved in test-artifacts/ (a full-page screenshot takes 0.3-1.2 s: taken after every test, they cost the suite a minute or so)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    if getattr(request.node, "failed_in", None):
        save_screenshot(pg, request.node.name)
    context.close()
