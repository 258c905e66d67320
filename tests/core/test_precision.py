"""Issue 28, mixed bfloat16 with real Keras training: a bfloat16 run trains, its classifier computes
in float32, it pauses and resumes in the precision it recorded, a fine-tune starts from it, its
saved model, TFLite and SavedModel files compute in float32, and its exported script trains in
bfloat16. `auto` measures a real model here once and then reuses the measurement; the Train page
says what it chose and why."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.jobs.registry import plan_resume
from cnn_core.model.architectures import get_preset
from cnn_core.model.summary import plan
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.takehome import deploy, export
from cnn_core.training import precision
from cnn_core.training.build import build_run_model
from cnn_core.training.fit import Start, new_record, run_config, run_training
from cnn_core.training.live import Control
from cnn_core.training.saved import load_run_model
from cnn_core.training.transfer import parent_of

pytestmark = pytest.mark.slow
ARCH = ArchChoice("tutorial-minimal")
BF16 = TrainConfig(epochs=3, batch_size=32, seed=3, learning_rate=0.01, schedule="cosine", rotation=10.0, precision="bfloat16")


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


def policies(model) -> set[str]:
    return {layer.dtype_policy.name for layer in model.layers if layer.weights or layer.name != "image"}


@pytest.fixture(scope="module")
def bf16_run(digits, tmp_path_factory):
    """A bfloat16 run paused one batch into epoch 2, then resumed to its end."""
    store = RunStore(tmp_path_factory.mktemp("bf16") / "runs")
    run_dir = store.new_run(run_config(digits, ARCH, BF16, "cli"), ARCH.preset)
    control = Control()

    def pause_after_epoch_1(epoch, row):
        if epoch == 0:
            control.pause.set()

    paused = run_training(digits, ARCH, BF16, run_dir, store, new_record(digits, BF16), control, pause_after_epoch_1)
    assert paused.status == "paused", paused.message
    resumed = plan_resume(store, run_dir, "cli")
    result = run_training(digits, resumed.arch, resumed.config, run_dir, store, start=resumed.start)
    return store, result


def test_a_bf16_model_computes_in_bf16_on_float32_weights_with_a_float32_classifier():
    model = build_run_model(ARCH, (8, 8, 1), 10, BF16, precision="bfloat16")
    inner, classifier = model.layers[-2], model.layers[-1]
    assert (inner.compute_dtype, inner.variable_dtype) == ("bfloat16", "float32") or not inner.weights
    assert classifier.dtype_policy.name == "float32" and model.output.dtype == "float32"
    assert {v.dtype for v in model.weights if v.trainable} == {"float32"}
    assert any(layer.compute_dtype == "bfloat16" for layer in model.layers if layer.weights)
    assert model.predict(np.zeros((2, 8, 8, 1), np.uint8), verbose=0).dtype == np.float32


def test_float32_is_unchanged():
    model = build_run_model(ARCH, (8, 8, 1), 10, TrainConfig(precision="float32"))
    assert policies(model) <= {"float32", "uint8"} and model.output.dtype == "float32"


def test_a_bf16_run_resumes_in_its_recorded_precision_and_saves_a_float32_model(bf16_run):
    store, result = bf16_run
    assert result.status == "completed" and [row["epoch"] for row in result.history] == [1, 2, 3]
    assert result.test_accuracy > 0.6  # digits: 0.86 after 2 epochs when measured
    recorded = json.loads((result.run_dir / "config.json").read_text())
    assert recorded["precision"] == {
        "setting": "bfloat16",
        "chosen": "bfloat16",
        "reason": "mixed bfloat16, as set",
        "ratios": [],
    }
    assert recorded["train"]["precision"] == "bfloat16"
    model, _ = load_run_model(result.run_dir, store)
    assert policies(model) <= {"float32", "uint8"}  # model.keras computes in float32, for any Keras and converter


def test_a_fine_tune_starts_from_a_bf16_runs_weights(bf16_run, digits):
    store, result = bf16_run
    config = TrainConfig(epochs=1, batch_size=32, precision="bfloat16")
    parent = parent_of(result.run_dir, digits.input_shape)
    run_dir = store.new_run(run_config(digits, ARCH, config, "cli", parent), "finetune")
    tuned = run_training(digits, ARCH, config, run_dir, store, start=Start(parent=parent))
    assert tuned.status == "completed" and parent.copied and tuned.test_accuracy > 0.6


def test_tflite_and_savedmodel_export_a_bf16_run_in_float32(bf16_run, digits):
    store, result = bf16_run
    model, _ = load_run_model(result.run_dir, store)
    rows = {row["format"]: row for row in deploy.deployables(model, digits)}
    assert abs(rows["tflite"]["test_accuracy"] - rows["keras"]["test_accuracy"]) <= 1 / len(digits.test)
    mixed = build_run_model(ARCH, (8, 8, 1), 10, BF16, precision="bfloat16")  # a model still in training's precision
    mixed.set_weights(model.get_weights())
    images = digits.test.images[:50]
    np.testing.assert_allclose(deploy.tflite_predict(deploy.tflite(mixed), images), model.predict(images, verbose=0), atol=1e-4)


def test_the_exported_script_trains_in_the_runs_precision(bf16_run, tmp_path):
    _, result = bf16_run
    script = tmp_path / "train.py"
    script.write_text(export.script(result.run_dir), encoding="utf-8")
    assert "    precision = 'bfloat16'" in script.read_text()
    done = subprocess.run([sys.executable, str(script), "--epochs", "1", "--limit", "400"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "computing in bfloat16" in done.stdout and "test accuracy" in done.stdout
    assert (tmp_path / "model.keras").is_file()


def test_auto_measures_this_model_here_once_then_reuses_the_measurement(tmp_path, monkeypatch):
    if precision.bf16_hardware() is None:  # decided here, not at collection: it may import TensorFlow
        pytest.skip("this machine has no bfloat16 units")
    monkeypatch.setenv("CNN_STUDIO_PRECISION_CACHE", str(tmp_path / "precision.json"))
    model_plan = plan(get_preset("keras-mnist"), (28, 28, 1), 10, None)
    first = precision.resolve("auto", model_plan, 64, 60_000, 5)  # full MNIST: long enough to measure
    assert len(first.ratios) == precision.PAIRS and all(0.2 < r < 10 for r in first.ratios)
    assert first.chosen == ("bfloat16" if np.median(first.ratios) >= precision.FASTER else "float32")
    assert first.sentence.startswith(f"auto chose {first.chosen}: bf16 measured") and precision.bf16_hardware() in first.sentence
    again = precision.resolve("auto", model_plan, 64, 60_000, 5)
    assert again.ratios == first.ratios and "measured earlier" in again.sentence


def test_the_train_page_says_what_auto_chose_and_why():
    from tests.app.helpers import open_page

    tiny = {
        "data_config": {"dataset_id": "shapes", "limit": 100, "image_size": 16},
        "arch_choice": {"preset": "tutorial-minimal"},
        "train_config": {"epochs": 2, "batch_size": 16},
    }
    at = open_page("train", session=tiny)
    captions = "\n".join(c.value for c in at.caption)
    expected = "auto chose float32: this run is short" if precision.bf16_hardware() else "auto chose float32: this machine has no"
    assert f"Precision (next run): {expected}" in captions
    assert any(box.label == "Precision" for box in at.selectbox)
