"""Label issues on mnist-5k with 3 % of its training labels flipped (seeded): confident learning
(k fold models, cleanlab) against the loss ranking of one model trained on all the noisy data.

Both lists have the same length (as many images as confident learning flags); precision is the
share of a list that are flips, recall the share of the flips a list holds. Each method's time
counts its training and predicting. Then a run trains on the version with confident learning's
issues relabelled to their suggested class, and its test accuracy is set against the noisy run's
(the same test images in both, none of them flipped).
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from bench.common import save, table

FLIP_FRACTION, FLIP_SEED = 0.03, 27
ARCH, FOLDS, BATCH, RATE = "keras-mnist", 5, 64, 0.003
RUN_EPOCHS = 20  # the run trains until it fits its training data (flips included), as a model trained long does
FOLD_EPOCHS = 6  # each fold model: fewer epochs, as the page allows


def flipped_version(dataset_id: str = "mnist-5k", fraction: float = FLIP_FRACTION, seed: int = FLIP_SEED):
    """A version of `dataset_id` with `fraction` of its training labels moved to another class at
    random: (version id, the flipped keys)."""
    from cnn_core.data import versions
    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import DataConfig

    base = load_dataset(DataConfig(dataset_id))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(base.train), round(fraction * len(base.train)), replace=False)
    names, edits = base.class_names, []
    for i in chosen:
        to = (int(base.train.labels[i]) + int(rng.integers(1, len(names)))) % len(names)
        edits.append({"key": int(base.train.keys[i]), "action": "relabel", "to": names[to]})
    return versions.derive(dataset_id, edits), {e["key"] for e in edits}


def train_run(dataset, arch, config):
    """A real run through the app's training path, in a scratch runs folder; (result, model)."""
    from cnn_core.runs.store import RunStore
    from cnn_core.training.fit import run_config, run_training
    from cnn_core.training.saved import load_run_model

    store = RunStore(tempfile.mkdtemp(prefix="bench-labels-"))
    run_dir = store.new_run(run_config(dataset, arch, config), arch.preset)
    result = run_training(dataset, arch, config, run_dir, store)
    return result, load_run_model(run_dir, store)[0]


def scores(found_keys: list, flipped: set) -> tuple[float, float]:
    """(precision, recall) of a list of keys against the flipped keys."""
    hits = len(set(found_keys) & flipped)
    return hits / max(1, len(found_keys)), hits / max(1, len(flipped))


def measure(arch_id: str = ARCH, epochs: int = RUN_EPOCHS, fold_epochs: int = FOLD_EPOCHS, folds: int = FOLDS,
            retrain: bool = True) -> dict:  # fmt: skip
    from cnn_core.data import versions
    from cnn_core.data.datasets import load_dataset
    from cnn_core.inspection.hardest import rank
    from cnn_core.inspection.label_issues import find
    from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig

    version, flipped = flipped_version()
    noisy = load_dataset(DataConfig(version))
    arch = ArchChoice(arch_id)
    config = TrainConfig(epochs=epochs, batch_size=BATCH, learning_rate=RATE, early_stopping=False)
    began = time.perf_counter()
    rows = find(noisy, arch, config, folds, fold_epochs)
    cl_seconds = time.perf_counter() - began
    began = time.perf_counter()
    noisy_run, model = train_run(noisy, arch, config)
    ranked = rank(model, noisy, ("train",))
    loss_keys = [int(noisy.train.keys[int(ranked.index[i])]) for i in ranked.order()[: len(rows)]]
    loss_seconds = time.perf_counter() - began
    figures = {
        "flips": len(flipped), "train_images": len(noisy.train), "listed": len(rows), "arch": arch_id, "epochs": epochs, "fold_epochs": fold_epochs,
        "folds": folds, "cl": dict(zip(("precision", "recall"), scores([r["index"] for r in rows], flipped))),
        "loss": dict(zip(("precision", "recall"), scores(loss_keys, flipped))),
        "cl_seconds": round(cl_seconds, 1), "loss_seconds": round(loss_seconds, 1),
        "train_accuracy_of_loss_model": float((ranked.predicted == ranked.labels).mean()),
        "test_accuracy_noisy": noisy_run.test_accuracy,
    }  # fmt: skip
    if retrain:
        fixes = [{"key": r["index"], "action": "relabel", "to": r["suggested"]} for r in rows]
        corrected = load_dataset(DataConfig(versions.derive(version, fixes)))
        figures["test_accuracy_corrected"] = train_run(corrected, arch, config)[0].test_accuracy
    return figures


def run() -> None:
    os.environ["CNN_STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-labels-data-")  # no cached folds: timed afresh
    f = measure()
    cl, loss = f["cl"], f["loss"]
    table(
        f"Label issues: mnist-5k, {f['flips']} of {f['train_images']:,} training labels flipped (3 %), "
        f"{f['arch']}, run {f['epochs']} epochs, fold models {f['fold_epochs']}, lists of {f['listed']}",
        [
            ("confident learning (precision / recall)", f"{cl['precision']:.1%} / {cl['recall']:.1%}"),
            ("loss ranking (precision / recall)", f"{loss['precision']:.1%} / {loss['recall']:.1%}"),
            (f"confident learning time ({f['folds']} folds)", f"{f['cl_seconds']:.0f} s"),
            ("loss ranking time (one run + scoring)", f"{f['loss_seconds']:.0f} s"),
            ("loss model's training accuracy", f"{f['train_accuracy_of_loss_model']:.1%}"),
            ("test accuracy, noisy labels", f"{f['test_accuracy_noisy']:.2%}"),
            ("test accuracy, corrected version", f"{f.get('test_accuracy_corrected', float('nan')):.2%}"),
        ],
    )
    save("labels", f)


if __name__ == "__main__":
    run()
