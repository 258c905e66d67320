"""Issue 25: one training recipe, one source. The app trains with `cnn_core.recipe`, the exported
script carries that module's source verbatim, and so the script builds the app's very model (the
same layers and, from the same seed, the same start weights) and, trained for the run's own
epochs, reaches the run's test accuracy within a stated tolerance.
"""

from __future__ import annotations

import ast
import inspect
import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_core import recipe
from cnn_core.data import datasets, images
from cnn_core.model import builder
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.takehome import export
from cnn_core.takehome.script import recipe_source
from cnn_core.training import build, callbacks, fit, schedules

pytestmark = pytest.mark.slow

ALLOWED_IMPORTS = {"math", "numpy", "PIL", "keras"}


def test_the_recipe_imports_only_the_standard_library_numpy_pillow_and_keras():
    tree = ast.parse(inspect.getsource(recipe))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    source = inspect.getsource(recipe)
    assert "tf." not in source and "tensorflow" not in source  # backend-neutral: keras.ops only
    assert "cnn_core" not in source  # the script must not need the app


def test_the_app_trains_with_the_recipes_functions():
    """No second copy: the app's names are the recipe's objects, or call them."""
    assert build.augmentation_layers is recipe.augmentation_layers
    assert schedules.formula is recipe.formula and schedules.COSINE_FLOOR == recipe.COSINE_FLOOR
    assert builder.BN_MOMENTUM is recipe.BN_MOMENTUM
    assert images.to_array is recipe.to_array and images.to_channels is recipe.to_channels  # a folder's pixels
    for module, name in [
        (builder, "recipe.build_model("),
        (build, "recipe.compile_model("),
        (datasets, "recipe.split_indices("),
        (datasets, "recipe.subsample_indices("),
        (images, "recipe.resize_all("),
        (callbacks, "recipe.early_stopping_args("),
    ]:
        assert name in inspect.getsource(module), (module.__name__, name)
    config = TrainConfig(schedule="cosine", optimizer="sgd", momentum=0.8)
    assert isinstance(schedules.keras_schedule(config, 10), recipe.schedule_class())  # the app's registers its settings
    assert float(build.make_optimizer(config, 10).momentum) == pytest.approx(0.8)


def test_the_script_carries_the_recipe_verbatim(trained_runs):
    run = next(p for p in trained_runs.iterdir() if p.is_dir())
    text = export.script(run)
    assert recipe_source() in text
    for fn in (recipe.formula, recipe.keras_layer, recipe.augmentation_layers, recipe.make_optimizer, recipe.stratified_split):
        assert inspect.getsource(fn) in text
    tree = ast.parse(text)
    assert ast.get_docstring(tree).count("TensorFlow (the default), JAX or PyTorch") == 1
    first_import = next(i for i, n in enumerate(tree.body) if isinstance(n, ast.Import) and n.names[0].name == "keras")
    assert ast.unparse(tree.body[first_import - 1]) == "os.environ.setdefault('KERAS_BACKEND', 'tensorflow')"


# Parity on digits (8x8, 1,797 images: 1,349 training, 179 validation and 269 test).
DIGITS = DataConfig("digits")
CONFIG = TrainConfig(epochs=8, batch_size=32, seed=3, schedule="cosine", learning_rate=0.01)
ARCH = ArchChoice("tutorial-minimal")
# The script builds the same model from the same seed and sees the same split; what differs is the
# order of the batches (the app's tf.data shuffle against Keras' shuffle of numpy arrays), which
# moves the result as a change of seed does. Trained here with seeds 3 to 6 (measured), the run's
# test accuracy spread over 1.9 points (0.911-0.929); 0.05 is over twice that (13 of 269 test
# images): wide enough for another batch order, narrow enough to catch a recipe that differs
# (6 epochs instead of 8 at a lower rate gave 0.65-0.76 on the same set).
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from cnn_core.data.datasets import load_dataset
    from cnn_core.runs.store import RunStore

    store = RunStore(tmp_path_factory.mktemp("parity") / "runs")
    dataset = load_dataset(DIGITS)
    run_dir = store.new_run(fit.run_config(dataset, ARCH, CONFIG), "digits")
    result = fit.run_training(dataset, ARCH, CONFIG, run_dir, store)
    assert result.status == "completed"
    return run_dir


def test_the_script_builds_the_apps_model_with_the_same_start_weights(digits_run, tmp_path):
    import keras

    script = tmp_path / "train.py"
    script.write_text(export.script(digits_run), encoding="utf-8")
    ns = runpy.run_path(str(script), run_name="not_main")  # the script's own functions, not called as __main__
    keras.utils.set_random_seed(CONFIG.seed)
    app = build.build_run_model(ARCH, (8, 8, 1), 10, CONFIG)
    keras.utils.set_random_seed(ns["Settings"].seed)
    theirs = ns["build_model"](ns["LAYERS"], ns["INPUT_SHAPE"], ns["augmentation_layers"](ns["Settings"]))
    assert [(type(a).__name__, a.name) for a in app.layers] == [(type(b).__name__, b.name) for b in theirs.layers]
    for a, b in zip(app.weights, theirs.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_the_scripts_accuracy_with_the_runs_own_epochs_matches_the_runs(digits_run, tmp_path):
    accuracy = json.loads((digits_run / "metrics.json").read_text())["test_accuracy"]
    script = tmp_path / "train.py"
    script.write_text(export.script(digits_run), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1,349 training, 179 validation and 269 test images" in done.stdout
    assert done.stdout.count("Epoch ") == CONFIG.epochs  # the run's own epochs (verbose=2 prints one line each)
    script_accuracy = float(done.stdout.split("test accuracy:")[1].split()[0])
    print(f"digits, {CONFIG.epochs} epochs: run {accuracy:.4f}, script {script_accuracy:.4f}")
    assert abs(script_accuracy - accuracy) <= TOLERANCE, (script_accuracy, accuracy)


def test_a_dataset_with_its_own_test_set_is_limited_resized_and_split_as_the_app_does(tmp_path, monkeypatch):
    """Fashion-MNIST from Debian's package (as the script reads it) comes with its own test set: the
    script keeps the same share of it, resizes both with the recipe and splits the rest alike."""
    from cnn_core.data.datasets import load_dataset
    from cnn_core.runs.store import RunStore

    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    monkeypatch.setenv("CNN_STUDIO_SYSTEM_DATASETS", "/usr/share/datasets")  # the real files, only read

    data = DataConfig("fashion-mnist", limit=300, image_size=14)
    dataset = load_dataset(data)
    store, config = RunStore(tmp_path / "runs"), TrainConfig(epochs=1, batch_size=32)
    run_dir = store.new_run(fit.run_config(dataset, ARCH, config), "fashion")
    assert fit.run_training(dataset, ARCH, config, run_dir, store).status == "completed"
    script = tmp_path / "train.py"
    script.write_text(export.script(run_dir), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    sizes = f"{len(dataset.train):,} training, {len(dataset.validation):,} validation and {len(dataset.test):,} test images"
    assert f"{sizes} of (14, 14, 1)" in done.stdout, done.stdout[:500]
    assert "test accuracy:" in done.stdout
