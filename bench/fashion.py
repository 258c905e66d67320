"""Full Fashion-MNIST (Debian's dataset-fashion-mnist, offline): the `fashion-cnn` preset with its
recommended settings against keras-mnist as the issue measured it (8 epochs, batch 64), through the
app's training path, beside the small CNNs of the dataset's published benchmark table.

Goal for fashion-cnn: at least 93 % test accuracy in at most 5 minutes of training on 2 cores.
Each preset trains once (a long run smooths the VM's spells of half speed); the time is from the
first batch's start to the last epoch's end, as the run's history records it."""

from __future__ import annotations

import gzip
import re
import tempfile
from pathlib import Path

from bench.common import save, table

PUBLISHED = Path("/usr/share/doc/dataset-fashion-mnist/README.md.gz")


def published_rows() -> list[tuple[str, float]]:
    """The convolutional rows of the package's benchmark table: (model, test accuracy)."""
    if not PUBLISHED.is_file():
        return []
    rows = []
    for line in gzip.open(PUBLISHED, "rt", encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 3 and "Conv" in cells[0] and re.fullmatch(r"0\.\d+", cells[2]):
            rows.append((cells[0], float(cells[2])))
    return rows


def _train(preset: str, **settings) -> dict:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.model.architectures import get_preset
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
    from cnn_core.training.fit import run_config, run_training

    dataset = load_dataset(DataConfig("fashion-mnist"))
    config = TrainConfig(**(get_preset(preset).recommended | settings))
    store, arch = RunStore(tempfile.mkdtemp()), ArchChoice(preset)
    run_dir = store.new_run(run_config(dataset, arch, config), preset)
    run_training(dataset, arch, config, run_dir, store)
    info, history = store.info(run_dir), store.read_history(run_dir)
    return {
        "preset": preset,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "schedule": config.schedule,
        "origin": dataset.origin,
        "train_seconds": round(float(history[-1]["seconds"]), 1),
        "test_accuracy": round(info.test_accuracy, 4),
    }


def run() -> dict:
    from cnn_core.data import downloads

    if downloads.find("fashion-mnist") is None:
        print("\nFashion-MNIST: skipped; install Debian's dataset-fashion-mnist (make test does, when root)")
        return {}
    ours = [_train("fashion-cnn"), _train("keras-mnist", epochs=8, batch_size=64)]
    published = published_rows()
    rows = [
        (f"{r['preset']} ({r['epochs']} epochs, batch {r['batch_size']}, {r['schedule']})",
         f"test accuracy {r['test_accuracy']:.2%} in {r['train_seconds'] / 60:.1f} min ({r['train_seconds']:.0f} s)")
        for r in ours
    ]  # fmt: skip
    rows += [(f"published: {name}", f"{accuracy:.3f}") for name, accuracy in published]
    table(f"Fashion-MNIST, full (60,000 + 10,000 images), from {ours[0]['origin']}", rows)
    figures = {
        "runs": ours,
        "published_range": [min(a for _, a in published), max(a for _, a in published)] if published else None,
    }
    save("fashion", figures)
    return figures
