"""Issue 25: the exported script runs on Keras' JAX backend as it does on TensorFlow (it sets
TensorFlow only by default and its recipe uses `keras.ops`), and the script of a fine-tuned run
says that it trains from scratch (it carries no parent's weights) and runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.takehome import export
from cnn_core.training.fit import Start, run_config, run_training
from cnn_core.training.transfer import parent_of
from tests.scripts import output_of, run_scripts

pytestmark = pytest.mark.slow

DIGITS = DataConfig("digits", limit=400)


def train(store: RunStore, config: TrainConfig, arch: str = "tutorial-minimal", start: Start | None = None):
    dataset = load_dataset(DIGITS)
    run_dir = store.new_run(run_config(dataset, ArchChoice(arch), config), arch)
    result = run_training(dataset, ArchChoice(arch), config, run_dir, store, start=start)
    assert result.status == "completed", result.message
    return run_dir


def run_script(run_dir, folder, *args, backend: str | None = None):
    script = folder / "train.py"
    folder.mkdir()
    script.write_text(export.script(run_dir), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"} | ({"KERAS_BACKEND": backend} if backend else {})
    done = subprocess.run([sys.executable, str(script), *args], cwd=folder, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return script.read_text(), done.stdout


def test_the_script_runs_on_the_jax_backend(tmp_path):
    pytest.importorskip("jax")  # requirements-dev.txt installs jax[cpu]
    # every schedule-, augmentation- and callback-path of the recipe, on JAX
    config = TrainConfig(
        epochs=2, batch_size=32, schedule="one-cycle", optimizer="sgd", flip=True, rotation=10, zoom=0.1,
        translation=0.1, early_stopping=True, patience=1,
    )  # fmt: skip
    run_dir = train(RunStore(tmp_path / "runs"), TrainConfig(**{**config.to_dict(), "epochs": 1}))
    _, printed = run_script(run_dir, tmp_path / "jax", "--epochs", "2", "--limit", "300", backend="jax")
    assert "on jax" in printed  # the script printed `keras.backend.backend()`
    accuracy = float(printed.split("test accuracy:")[1].split()[0])
    assert 0.0 <= accuracy <= 1.0
    assert (tmp_path / "jax" / "model.keras").is_file()


@pytest.fixture(scope="module")
def on_tensorflow(trained_runs, tmp_path_factory) -> dict[str, tuple]:
    """The two TensorFlow cases below, run in one process without KERAS_BACKEND (tests/scripts.py):
    name -> (script text, what it printed); "child" also gives its parent's and its own run folders."""
    base = tmp_path_factory.mktemp("backends")
    store = RunStore(base / "runs")
    parent = train(store, TrainConfig(epochs=1, batch_size=32))
    child = train(
        store, TrainConfig(epochs=1, batch_size=32, seed=2), start=Start(parent=parent_of(parent, (8, 8, 1), freeze=True))
    )
    runs = {"plain": next(p for p in trained_runs.iterdir() if p.is_dir()), "child": child}
    args = {"plain": ["--epochs", "1", "--limit", "60"], "child": ["--epochs", "1", "--limit", "300"]}
    jobs = {}
    for name, run_dir in runs.items():
        script = base / name / "train.py"
        script.parent.mkdir()
        script.write_text(export.script(run_dir), encoding="utf-8")
        jobs[name] = (script, args[name])
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = run_scripts(jobs, env=env)
    found = {name: (jobs[name][0].read_text(), output_of(done[name])) for name in jobs}
    return found | {"runs": (parent, child)}


def test_without_keras_backend_the_script_uses_tensorflow(on_tensorflow):
    _, printed = on_tensorflow["plain"]
    assert "on tensorflow" in printed and "test accuracy:" in printed, printed


def test_a_fine_tuned_runs_script_says_it_trains_from_scratch_and_runs(on_tensorflow):
    parent, child = on_tensorflow["runs"]
    assert read_json(child / "config.json")["parent"]["run_id"] == parent.name
    text, printed = on_tensorflow["child"]
    doc = text.split('"""')[1]
    assert f"fine-tuned this run from run {parent.name}'s weights with its convolutions frozen" in doc
    assert "it trains every layer from scratch" in doc and "FINE_TUNED = True" in text
    assert "this script trains from scratch" in printed and "test accuracy:" in printed, printed
    plain = export.script(parent)
    assert "FINE_TUNED = False" in plain and "from scratch" not in plain.split('"""')[1]  # nor does its docstring
