"""Exports of a real (tiny) run: the script runs as exported, TFLite agrees with Keras, the report
opens offline."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from cnn_core.errors import StudioError
from cnn_core.inspection.evaluation import load_run
from cnn_core.runs.store import RunStore
from cnn_core.takehome import export
from cnn_core.takehome.report import report
from tests.cli import cli
from tests.conftest import ROOT, make_class_folder, train_tiny_run
from tests.scripts import output_of, run_scripts

pytestmark = pytest.mark.slow


def cli_process(*args):
    """The CLI in a new Python process (tests/cli.py's `cli` runs it in this one)."""
    return subprocess.run([sys.executable, "-m", "cnn_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


SCRIPT_RUNS = {
    "shapes": ("shapes", {"limit": 150, "image_size": 16}),
    "digits": ("digits", {"image_size": 12, "limit": 400}),
    "folder": ("folder", {}),
}


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, dict]:
    """Each exported run of the tests below -> its run folder, script, the export command's result
    and what the script printed (its traceback if it raised)."""
    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
    from cnn_core.training.fit import run_config, run_training

    base, found = tmp_path_factory.mktemp("exports"), {}
    for name, (dataset, data) in SCRIPT_RUNS.items():
        if dataset == "folder":
            dataset = f"folder:{make_class_folder(base / 'pets', {'cats': 12, 'dogs': 12}, size=20, rgb=True)}"
        run = train_tiny_run(base / name / "runs", dataset, "tutorial-minimal", epochs=1, **data)
        out = base / name / "exported" / "train.py"  # a clean folder: only the script and what it writes
        out.parent.mkdir()
        done = cli("export", str(run), "--format", "script", "--out", str(out), "--json")
        found[name] = {"run": run, "script": out, "export": done, "args": ["--epochs", "1"]}

    run = train_tiny_run(base / "mnist" / "runs", "mnist-5k", "keras-mnist", epochs=2)
    found["keras-mnist"] = {"run": run, "script": base / "mnist" / "keras_mnist.py", "args": []}  # the run's own epochs

    store = RunStore(base / "lenet" / "runs")
    dataset = load_dataset(DataConfig("shapes", limit=150, image_size=16))
    config = TrainConfig(
        epochs=1, batch_size=16, schedule="one-cycle", flip=True, rotation=10, optimizer="sgd", early_stopping=True
    )
    run = store.new_run(run_config(dataset, ArchChoice("lenet-dropout"), config), "x")
    run_training(dataset, ArchChoice("lenet-dropout"), config, run, store)
    found["lenet"] = {"run": run, "script": base / "lenet" / "lenet.py", "args": ["--epochs", "1"]}
    for name in ("keras-mnist", "lenet"):
        found[name]["script"].write_text(export.script(found[name]["run"]))

    # one process runs the five scripts (tests/scripts.py): TensorFlow is imported once, not five times
    done = run_scripts({name: (f["script"], f["args"]) for name, f in found.items() if f["script"].is_file()})
    return {name: {**f, "printed": output_of(done[name]) if name in done else ""} for name, f in found.items()}


@pytest.mark.parametrize("dataset", list(SCRIPT_RUNS))
def test_the_exported_script_runs_outside_cnn_studio_with_the_same_model(scripts, dataset):
    run, out, done, printed = (scripts[dataset][k] for k in ("run", "script", "export", "printed"))
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "cnn_core" not in text.replace("CNN Studio", "")  # nothing of CNN Studio is imported
    params = json.loads((run / "config.json").read_text())["architecture"]["params"]
    assert f"parameters: {params:,}" in printed and "test accuracy:" in printed, printed
    assert (out.parent / "model.keras").is_file()


def test_a_keras_mnist_run_on_mnist_5k_and_its_script_agree(scripts):
    """The issue's check: the script prints the run's parameter count, and trained for the run's own
    epochs its test accuracy is within 0.04 of the run's (the batch order and start weights differ)."""
    run, printed = scripts["keras-mnist"]["run"], scripts["keras-mnist"]["printed"]
    accuracy = json.loads((run / "metrics.json").read_text())["test_accuracy"]
    assert "parameters: 93,322" in printed and "test accuracy:" in printed, printed
    assert printed.count("Epoch ") == 2  # the run's own epochs (verbose=2 prints one line each)
    script_accuracy = float(printed.split("test accuracy:")[1].split()[0])
    assert abs(script_accuracy - accuracy) <= 0.04, (script_accuracy, accuracy)


def test_an_exported_schedule_and_augmentation_run(scripts):
    text = scripts["lenet"]["script"].read_text()
    # the recipe's functions (issue 25: copied verbatim), fed the run's settings
    assert "RandomRotation(settings.rotation / 360" in text and "class Schedule" in text and "keras.optimizers.SGD(rate" in text
    assert "    rotation = 10" in text and "    schedule = 'one-cycle'" in text and "    momentum = 0.9" in text
    assert "    early_stopping = True" in text and "    patience = 3" in text
    assert "test accuracy:" in scripts["lenet"]["printed"], scripts["lenet"]["printed"]


def test_tflite_float_and_quantized_agree_with_keras_and_savedmodel_is_written(tmp_path):
    run = train_tiny_run(tmp_path / "runs", "shapes", "keras-mnist", epochs=2, limit=200, image_size=28)
    model, dataset, _ = load_run(run, RunStore(tmp_path / "runs"))
    rows = {r["format"]: r for r in export.deployables(model, dataset)}
    assert set(rows) == {"keras", "savedmodel", "tflite", "tflite-quant"}
    assert rows["tflite"]["test_accuracy"] == pytest.approx(rows["keras"]["test_accuracy"], abs=1e-9)
    assert abs(rows["tflite-quant"]["test_accuracy"] - rows["keras"]["test_accuracy"]) <= 0.1
    assert rows["tflite-quant"]["bytes"] < rows["tflite"]["bytes"] / 2  # int8 weights
    images = dataset.test.images[:5]
    np.testing.assert_allclose(export.tflite_predict(rows["tflite"]["content"], images), model(images).numpy(), atol=1e-4)
    for fmt, name in (("tflite-quant", "m.tflite"), ("savedmodel", "saved")):
        done = cli("export", str(run), "--format", fmt, "--out", str(tmp_path / name), "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)["bytes"] > 1000
    assert (tmp_path / "saved" / "saved_model.pb").is_file()
    again = cli("export", str(run), "--format", "savedmodel", "--out", str(tmp_path / "saved"))
    assert again.returncode == 2 and "already exists" in again.stderr and again.stderr.count("\n") == 1
    assert zipfile.ZipFile(__import__("io").BytesIO(export.zip_folder(tmp_path / "saved"))).namelist()


def external_sources(text: str) -> list[str]:
    """src/href attributes of the page's own tags (a parser skips the text inside <script>)."""
    from html.parser import HTMLParser

    found = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(v for k, v in attrs if k in ("src", "href") and v and not v.startswith("data:"))

    Tags().feed(text)
    return found


def test_the_html_report_is_one_file_that_needs_no_network(tmp_path, trained_runs):
    runs = sorted(p for p in trained_runs.iterdir() if p.is_dir())
    other = train_tiny_run(tmp_path / "runs", "shapes", "tutorial-minimal", epochs=3)
    text = report([runs[0], other], RunStore(trained_runs))
    assert external_sources(text) == []  # plotly.js is inside the file, not fetched
    assert "Comparison" in text and text.count("<h2>") == 3  # the comparison, then each run
    assert "3×(3×3×3)+3 = 84" in text  # the architecture table with its formulas
    assert "Test accuracy" in text and "precision" in text and "data:image/png;base64," in text
    single = tmp_path / "one.html"
    done = cli("export", str(other), "--format", "html", "--out", str(single))
    assert done.returncode == 0, done.stderr[-2000:]
    assert single.read_text().count("<h2>") == 1


def test_refusals(tmp_path):
    assert (
        cli_process(  # a real `python -m cnn_core export`; the other exports run in this process
            "export", "no-such-run", "--format", "html", "--out", str(tmp_path / "x.html"), "--runs-dir", str(tmp_path)
        ).returncode
        == 2
    )
    with pytest.raises(StudioError, match="already exists"):
        export.savedmodel(None, tmp_path)
