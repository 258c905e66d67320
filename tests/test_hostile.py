"""Hostile input, end to end through the CLI and the app (AppTest): a clear message every time,
nothing written outside the app's folders, no existing run touched, the app still serving. Each case
runs under `hostile_case` (tests/hostile_case.py): one line, no file outside the app's folders, and
this process's resident memory (the CLI's and the app's) under a small budget plus a margin."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.helpers import open_page
from tests.cli import cli as in_process_cli
from tests.conftest import ROOT
from tests.hostile import HOSTILE_RUN_NAME, dataset_zips, lab_tiff, model_files, predict_uploads, run_zips
from tests.hostile_case import PAGE_MARGIN_MB, hostile_case, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, trained_runs):
    folder = tmp_path_factory.mktemp("hostile")
    zips, uploads = dataset_zips(folder / "zips"), predict_uploads(folder / "uploads")
    warm_up(folder / "warm-up", zips["unicode-classes"][0], uploads["animated-gif"][0], trained_runs)
    return {"zips": zips, "uploads": uploads, "folder": folder}


def warm_up(folder, dataset_zip, image, trained_runs) -> None:
    """One benign pass through what the cases use (the CLI, the Data page, a prediction), in a scratch
    workspace: the modules those import and the functions TensorFlow traces once are this process's
    own cost, not a case's, and the memory check measures each case alone."""
    with pytest.MonkeyPatch.context() as env:
        for name, var in [("runs", "CNN_STUDIO_RUNS_DIR"), ("data", "CNN_STUDIO_DATA_DIR"), ("keras", "KERAS_HOME")]:
            env.setenv(var, str(folder / name))
        assert cli("dataset-info", f"zip:{dataset_zip}", "--json").returncode == 0
        open_page("data", session={"data_config": {"dataset_id": f"zip:{dataset_zip}"}}, timeout=120)
        run = next(p for p in trained_runs.iterdir() if p.is_dir())
        assert cli("predict", "--run", str(run), "--image", str(image), "--json").returncode == 0


def cli(*args):
    """The CLI in this process (tests/cli.py: a new process would import TensorFlow again, 7-8 s per
    case); the exported script's --help below, and tests/core/test_cli.py, still run real processes."""
    return in_process_cli(*args)


def run_hashes(runs: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in runs.rglob("*") if p.is_file()}


def assert_clear_refusal(out, reason: str, case) -> None:
    assert out.returncode == 2, out.stderr[-1500:]
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert reason in case.says(out.stderr)


# What the report of an accepted zip must name: the members it did not extract.
SKIPPED = {"path-escapes": {"../../evil.png", "/abs/evil.png"}, "bomb": {"a/bomb.png"}}


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
def test_dataset_zip(name, corpus, trained_run, trained_runs, workspace, tmp_path_factory):
    path, expected = corpus["zips"][name]
    before_runs = run_hashes(trained_runs)
    before_files = snapshot(workspace.parent, skip=[workspace / "data"])
    with hostile_case(tmp_path_factory.getbasetemp(), [workspace / "data"], margin_mb=PAGE_MARGIN_MB) as case:
        out = cli("dataset-info", f"zip:{path}", "--json")
        if expected == "ok":
            assert out.returncode == 0, out.stderr[-1500:]
            info = json.loads(out.stdout)
            assert len(info["class_names"]) >= 2
            assert SKIPPED.get(name, set()) <= {s["file"] for s in info["skipped"]}
            for skipped in info["skipped"]:
                case.says(f"{skipped['file']}: {skipped['reason']}")
            case.accepts(f"{len(info['class_names'])} classes, {len(info['skipped'])} file(s) skipped and reported")
        else:
            assert_clear_refusal(out, expected, case)
        at = open_page("data", session={"data_config": {"dataset_id": f"zip:{path}"}}, timeout=120)
        if expected == "ok":
            assert any("Ingestion report" in m.value for m in at.markdown)
        else:
            assert at.error and expected in at.error[0].value and "Traceback" not in at.error[0].value
            case.says(at.error[0].value)
    assert snapshot(workspace.parent, skip=[workspace / "data"]) == before_files
    assert run_hashes(trained_runs) == before_runs
    assert not list(workspace.parent.rglob("evil.png")) and not Path("/abs/evil.png").exists()
    assert open_page("data").title[0].value == "Data"  # still serving


@pytest.mark.parametrize("name", ["svg", "animated-gif", "8000x8000-jpeg", "8000x8000-png", "cmyk-jpeg", "random-bytes"])
def test_predict_upload_through_the_cli(name, corpus, trained_run, trained_runs, tmp_path_factory):
    path, expected = corpus["uploads"][name]
    before = run_hashes(trained_runs)
    with hostile_case(tmp_path_factory.getbasetemp(), allowed=[]) as case:  # a prediction writes nothing
        out = cli("predict", "--run", trained_run, "--image", str(path), "--json")
        if expected == "ok":
            assert out.returncode == 0, out.stderr[-1500:]
            assert 0 <= json.loads(out.stdout)[0]["confidence"] <= 1
            case.accepts("predicted")
        else:
            assert_clear_refusal(out, expected, case)
    assert run_hashes(trained_runs) == before


def test_a_predict_upload_in_the_lab_mode_pillow_converts_only_through_profiles(corpus, tmp_path_factory):
    """It escaped as "conversion from LAB to RGB not supported" with a traceback; it is converted now."""
    import keras
    from PIL import Image

    from cnn_core.data.images import load_array

    model = corpus["folder"] / "gray.keras"
    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")]).save(model)
    path = lab_tiff(corpus["folder"] / "lab.tiff")
    with hostile_case(tmp_path_factory.getbasetemp(), allowed=[]) as case:
        out = cli("predict", "--model", str(model), "--image", str(path), "--json")
        assert out.returncode == 0, out.stderr[-1500:]
        case.accepts("converted from CIELAB and predicted")
    rgb = load_array(path, (64, 64), 3)
    with Image.open(path) as img:
        assert img.mode == "LAB"
    assert rgb.shape == (64, 64, 3) and rgb.std() > 1  # colours, not a blank


def test_model_files_through_the_cli(corpus, trained_runs, tmp_path, tmp_path_factory, workspace):
    good = next(p for p in trained_runs.iterdir() if p.is_dir()) / "model.keras"
    before = run_hashes(trained_runs)
    for _name, (path, reason) in model_files(corpus["folder"] / "models", good).items():
        with hostile_case(tmp_path_factory.getbasetemp(), [tmp_path / "runs", workspace]) as case:
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
                case.accepts("imported as a run")
            else:
                assert_clear_refusal(out, reason, case)
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
    run under a fresh id inside runs/. Either way nothing is written anywhere else: `hostile_case`
    compares the test's workspace and every temporary folder of this test session before and after."""
    good = next(p for p in trained_runs.iterdir() if p.is_dir())
    path, expected = run_zips(corpus["folder"] / "run-zips", good)[name]
    runs, base = tmp_path / "runs", tmp_path_factory.getbasetemp()
    app_folders = [runs, tmp_path / "workspace" / "keras"]  # Keras writes its keras.json in its own home
    with hostile_case(base, app_folders) as case:
        out = cli("import", str(path), "--runs-dir", str(runs), "--json")
        if expected != "ok":
            assert_clear_refusal(out, expected, case)
            assert not runs.exists() or list(runs.iterdir()) == []  # no run, no staging folder
        else:
            assert out.returncode == 0, out.stderr[-1500:]
            (run,) = runs.iterdir()
            assert json.loads(out.stdout)["run_dir"] == str(run) and "imported" in run.name
            assert json.loads((run / "config.json").read_text())["run_id"] == run.name
            case.accepts(f"imported as {run.name}")
    assert not list(base.rglob("x-imported*")) and not list(base.rglob("evil.txt")) and not Path("/abs").exists()
    if name == "hostile-name":  # its exported script is the template's, and --help runs nothing
        script = tmp_path / "out" / "train.py"
        with hostile_case(base, [*app_folders, script.parent]) as case:
            script.parent.mkdir()
            done = cli("export", run.name, "--format", "script", "--out", str(script), "--runs-dir", str(runs))
            assert done.returncode == 0, done.stderr[-1500:]
            assert HOSTILE_RUN_NAME not in script.read_text()
            helped = subprocess.run([sys.executable, str(script), "--help"], cwd=script.parent, capture_output=True, timeout=300)
            assert helped.returncode == 0 and sorted(p.name for p in script.parent.iterdir()) == ["train.py"]
            case.accepts("exported; its --help ran nothing")
        assert not list(base.rglob("PWNED")) and not (ROOT / "PWNED").exists()
