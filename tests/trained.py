"""Trained things that many tests share, built once per session by the fixtures in tests/conftest.py.

Training is most of the suite's time, and many tests only read a trained model or a run folder:
those tests share one of these. A test that changes a run copies its folder first (`copy_runs`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from tests.conftest import make_class_folder


def copy_runs(source: Path, target: Path) -> list[Path]:
    """Copy every run folder of the runs folder `source` into `target`; returns the copies."""
    copies = []
    for run in sorted(p for p in source.iterdir() if p.is_dir()):
        shutil.copytree(run, target / run.name, dirs_exist_ok=True)
        copies.append(target / run.name)
    return copies


def corner_data(n=400, size=16, seed=0):
    """Class 1: a bright square in the top-left corner; class 0: the same square in the bottom-right."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 30, (n, size, size, 1)).astype(np.uint8)
    y = np.arange(n) % 2
    for i, label in enumerate(y):
        r, c = (rng.integers(0, 3), rng.integers(0, 3)) if label else (rng.integers(9, 12), rng.integers(9, 12))
        x[i, r : r + 4, c : c + 4] = 255
    return x, y


def corner_model(dense_units: int | None = None):
    """Two 3x3 convolutions and global pooling (then a Dense layer of `dense_units` when given),
    trained from seed 0 for 15 epochs on `corner_data()`: it tells the two corners apart."""
    import keras

    from cnn_core.model.architectures import ArchitectureSpec
    from cnn_core.model.builder import build_model

    keras.utils.set_random_seed(0)
    conv = {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"}
    layers = [conv, conv, {"type": "GlobalAveragePooling2D"}]
    if dense_units:
        layers.append({"type": "Dense", "units": dense_units})
    model = build_model(ArchitectureSpec("t", "t", layers), (16, 16, 1), 2)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = corner_data()
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    return model


def diagnosis_scenarios(folder_root: Path) -> dict[str, tuple[str, object, str, dict]]:
    """Finding kind -> (its title on the Evaluate page, data, architecture, settings): a real short
    run built to show that pattern."""
    from cnn_core.settings.config import DataConfig

    pets = make_class_folder(folder_root / "pets", {"cat": 60, "dog": 12})
    mnist_400 = DataConfig("mnist-5k", limit=400)
    return {
        "diverging": ("Diverging", DataConfig("shapes", limit=200, image_size=16), "lenet-dropout",
                      dict(epochs=3, batch_size=16, learning_rate=1.0)),
        "not-learning": ("Not learning", DataConfig("mnist-5k", limit=2000), "keras-mnist",
                         dict(epochs=3, learning_rate=1e-5)),
        "lr-too-low": ("Learning slowly", DataConfig("mnist-5k"), "keras-mnist", dict(epochs=5, learning_rate=2e-5)),
        "overfitting": ("Overfitting", mnist_400, "keras-mnist", dict(epochs=25, batch_size=32)),
        "early-stopping": ("Early stopping ended training", mnist_400, "keras-mnist",
                           dict(epochs=25, batch_size=32, early_stopping=True, patience=2)),
        "underfitting": ("Underfitting", DataConfig("shapes", limit=1000, image_size=32), "tutorial-minimal",
                         dict(epochs=8, batch_size=32)),
        "imbalance": ("Class imbalance", DataConfig(f"folder:{pets}"), "tutorial-minimal", dict(epochs=1, batch_size=16)),
    }  # fmt: skip


def train_diagnosed(workdir: Path) -> dict[str, tuple[str, object]]:
    """Train every diagnosis scenario into `workdir/runs`: finding kind -> (title, TrainResult)."""
    from cnn_core.data.datasets import load_dataset
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, TrainConfig
    from cnn_core.training.fit import run_config, run_training

    store, found = RunStore(workdir / "runs"), {}
    for kind, (title, data, arch, settings) in diagnosis_scenarios(workdir).items():
        dataset, config, choice = load_dataset(data), TrainConfig(**settings), ArchChoice(arch)
        run_dir = store.new_run(run_config(dataset, choice, config), arch)
        found[kind] = (title, run_training(dataset, choice, config, run_dir, store))
    return found
