"""A wheel of CNN Studio, installed on its own, serves the app with `cnn-studio serve` from any folder."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import free_port
from tests.e2e.helpers import assert_no_exception, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_cnn_studio_serve_from_an_installed_wheel(tmp_path, browser):
    source, wheels, target, elsewhere = (tmp_path / name for name in ("source", "wheels", "site", "somewhere"))
    elsewhere.mkdir()
    anywhere = shutil.ignore_patterns(".git", ".venv", "build", "test-artifacts", "*.egg-info", "__pycache__")

    def skip(folder: str, names: list[str]) -> set[str]:  # the app's runs/ and data/ at the top, not cnn_core/runs
        return set(anywhere(folder, names)) | ({"runs", "data"} & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, source, ignore=skip)  # setuptools builds in the source folder: not in the checkout
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source), "-w", str(wheels)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("*.whl")
    packed = set(
        zipfile.ZipFile(wheel).namelist()
    )  # this test's python also sees the checkout (editable install): check the files
    modules = {p.relative_to(ROOT).as_posix() for package in ("cnn_core", "ui") for p in (ROOT / package).rglob("*.py")}
    assert modules <= packed, sorted(modules - packed)[:5]
    install = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--target",
        str(target),
        *map(str, wheels.glob("*.whl")),
    ]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target), "CNN_STUDIO_RUNS_DIR": str(tmp_path / "runs")}
    command = [sys.executable, str(target / "bin" / "cnn-studio")]

    version = subprocess.run([*command, "--version"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("CNN Studio 0.")

    port = free_port()
    server = subprocess.Popen(
        [*command, "serve", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        wait_ready(page, "Handwritten digits 0-9")
        assert_no_exception(page)
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
