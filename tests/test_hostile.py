"""Hostile input, end to end through the CLI and the app (AppTest): a clear message every time,
nothing written outside the app's folders, no existing run touched, the app still serving."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.helpers import open_page
from tests.cli import cli as in_process_cli
from tests.conftest import ROOT
from tests.hostile import HOSTILE_RUN_NAME, dataset_zips, model_files, predict_uploads, run_zips, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return {"zips": dataset_zips(folder / "zips"), "uploads": predict_uploads(folder / "uploads"), "folder": folder}


def cli(*args):
    """The CLI in this process (tests/cli.py: a new process would import TensorFlow again, 7-8 s per
    case); the exported script's --help below, and tests/core/test_cli.py, still run real processes."""
    return in_process_cli(*args)


def run_hashes(runs: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in runs.rglob("*") if p.is_file()}


def assert_clear_refusal(out, reason: str = "") -> None:
    assert out.returncode == 2, out.stderr[-1500:]
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert reason in out.stderr


@pytest.mark.parametrize(
    "name",
    [
        "path-escapes",
        "bomb",
        "bad-files",
        "image-modes",
        "single-class",
        "empty",
        "random-bytes",
        "deep-nesting",
        "unicode-classes",
        "too-few-per-class",
    ],
)
def test_dataset_zip(name, corpus, trained_run, trained_runs, workspace):
    path, expected = corpus["zips"][name]
    before_runs = run_hashes(trained_runs)
    before_files = snapshot(workspace.parent, skip=[workspace / "data"])
    out = cli("dataset-info", f"zip:{path}", "--json")
    if expected == "ok":
        assert out.returncode == 0, out.stderr[-1500:]
        assert len(json.loads(out.stdout)["class_names"]) >= 2
    else:
        assert_clear_refusal(out, expected)
    at = open_page("data", session={"data_config": {"dataset_id": f"zip:{path}"}}, timeout=120)
    if expected == "ok":
        assert any("Ingestion report" in m.value for m in at.markdown)
    else:
        assert at.error and expected in at.error[0].value and "Traceback" not in at.error[0].value
    assert snapshot(workspace.parent, skip=[workspace / "data"]) == before_files
    assert run_hashes(trained_runs) == before_runs
    assert not list(workspace.parent.rglob("evil.png")) and not Path("/abs/evil.png").exists()
    assert open_page("data").title[0].value == "Data"  # still serving


@pytest.mark.parametrize("name", ["svg", "animated-gif", "8000x8000-jpeg", "random-bytes"])
def test_predict_upload_through_the_cli(name, corpus, trained_run, trained_runs):
    path, expected = corpus["uploads"][name]
    before = run_hashes(trained_runs)
    out = cli("predict", "--run", trained_run, "--image", str(path), "--json")
    if expected == "ok":
        assert out.returncode == 0, out.stderr[-1500:]
        assert 0 <= json.loads(out.stdout)[0]["confidence"] <= 1
    else:
        assert_clear_refusal(out, expected)
    assert run_hashes(trained_runs) == before


def test_model_files_through_the_cli(corpus, trained_runs, tmp_path):
    good = next(p for p in trained_runs.iterdir() if p.is_dir()) / "model.keras"
    before = run_hashes(trained_runs)
    for _name, (path, reason) in model_files(corpus["folder"] / "models", good).items():
        out = cli(
            "import",
            str(path),
            "--dataset",
            "shapes",
            "--limit",
            "150",
            "--image-size",
            "16",
            "--runs-dir",
            str(tmp_path / "runs"),
        )
        if reason == "ok":
            assert out.returncode == 0, out.stderr[-1500:]
        else:
            assert_clear_refusal(out, reason)
    assert len(list((tmp_path / "runs").iterdir())) == 1  # only the good model became a run
    assert run_hashes(trained_runs) == before


@pytest.mark.parametrize(
    "name",
    [
        "escaping-run-id",
        "escaping-member",
        "hostile-name",
        "dataset-is-a-number",
        "epochs-as-text",
        "code-as-a-rate",
        "unknown-architecture",
        "huge-config",
        "config-is-a-list",
    ],
)
def test_run_zip_through_the_cli(name, corpus, trained_runs, tmp_path_factory, tmp_path):
    """A refused run zip says why in one line and leaves nothing in runs/; an accepted one becomes one
    run under a fresh id inside runs/. Either way nothing is written anywhere else: the test's
    workspace and every temporary folder of this test session are compared before and after."""
    good = next(p for p in trained_runs.iterdir() if p.is_dir())
    path, expected = run_zips(corpus["folder"] / "run-zips", good)[name]
    runs, base = tmp_path / "runs", tmp_path_factory.getbasetemp()
    app_folders = [runs, tmp_path / "workspace" / "keras"]  # Keras writes its keras.json in its own home
    before = snapshot(base, skip=app_folders)
    out = cli("import", str(path), "--runs-dir", str(runs), "--json")
    if expected != "ok":
        assert_clear_refusal(out, expected)
        assert not runs.exists() or list(runs.iterdir()) == []  # no run, no staging folder
    else:
        assert out.returncode == 0, out.stderr[-1500:]
        (run,) = runs.iterdir()
        assert json.loads(out.stdout)["run_dir"] == str(run) and "imported" in run.name
        assert json.loads((run / "config.json").read_text())["run_id"] == run.name
    assert snapshot(base, skip=app_folders) == before
    assert not list(base.rglob("x-imported*")) and not list(base.rglob("evil.txt")) and not Path("/abs").exists()
    if name == "hostile-name":  # its exported script is the template's, and --help runs nothing
        script = tmp_path / "out" / "train.py"
        script.parent.mkdir()
        done = cli("export", run.name, "--format", "script", "--out", str(script), "--runs-dir", str(runs))
        assert done.returncode == 0, done.stderr[-1500:]
        assert HOSTILE_RUN_NAME not in script.read_text()
        helped = subprocess.run([sys.executable, str(script), "--help"], cwd=script.parent, capture_output=True, timeout=300)
        assert helped.returncode == 0 and sorted(p.name for p in script.parent.iterdir()) == ["train.py"]
        assert not list(base.rglob("PWNED")) and not (ROOT / "PWNED").exists()
