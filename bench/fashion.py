"""Full Fashion-MNIST (Debian's dataset-fashion-mnist, offline): time to 93 % test accuracy.

`fashion-cnn` and `fashion-fast` (the same layers with batch normalisation after pooling) with
their recommended settings train twice each through the app's training path, in float32 and with
precision `auto` (which, on a CPU with AMX, measures bfloat16 against float32 on the model and
picks the faster), alternating in the same bench run (A B, then B A); then keras-mnist as the
issue measured it (8 epochs, batch 64, auto). After every epoch the model is scored on the
test split; the time that scoring takes is left out. The figure is the wall time from pressing
Train (`run_training` called, the dataset already loaded as the app keeps it) to the end of the
first epoch whose test accuracy is at least 93 %, and the ratio auto / float32. Each run starts
with an empty precision cache, so auto's measurement (a few seconds) is inside its time, as for a
learner's first run of a model.

Goal (issue 28): at most 0.6x of today's time (370 s for fashion-cnn's 12 epochs, measured by the
issue), and under 3 minutes on 2 cores. It takes about 20 minutes, so it is not part of a quick
bench run.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import save, table

PUBLISHED = Path("/usr/share/doc/dataset-fashion-mnist/README.md.gz")
TARGET = 0.93
TODAY_SECONDS = 370  # fashion-cnn's 12 epochs through the CLI when the issue was filed
CACHE_ENV = "CNN_STUDIO_PRECISION_CACHE"


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


@contextmanager
def fresh_precision_cache():
    """While the block runs, auto's measurement cache is a new empty file: auto measures again."""
    saved = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(Path(tempfile.mkdtemp()) / "precision.json")
    try:
        yield
    finally:
        os.environ.pop(CACHE_ENV)
        if saved is not None:
            os.environ[CACHE_ENV] = saved


@contextmanager
def test_scores(dataset, batch_size: int, began: float, rows: list):
    """While the block runs, each training session scores the test split after every epoch and
    appends (epoch, seconds since `began` without the scoring, test accuracy) to `rows`."""
    import keras

    from cnn_core.data.pipeline import evaluation_batches
    from cnn_core.training import fit

    original, spent = fit._callbacks, [0.0]

    class TestScore(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            start = time.perf_counter()
            scores = self.model.evaluate(evaluation_batches(dataset.test, batch_size), verbose=0, return_dict=True)
            rows.append((epoch + 1, round(start - began - spent[0], 1), round(float(scores["accuracy"]), 4)))
            spent[0] += time.perf_counter() - start

    def wrapped(*args):
        callbacks, divergence, early = original(*args)
        return [*callbacks, TestScore()], divergence, early

    fit._callbacks = wrapped
    try:
        yield
    finally:
        fit._callbacks = original


def _train(dataset, preset: str, **settings) -> dict:
    import json

    from cnn_core.model.architectures import get_preset
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, TrainConfig
    from cnn_core.training.fit import run_config, run_training

    config = TrainConfig(**(get_preset(preset).recommended | settings))
    store, arch, rows = RunStore(tempfile.mkdtemp()), ArchChoice(preset), []
    run_dir = store.new_run(run_config(dataset, arch, config), preset)
    began = time.perf_counter()
    with fresh_precision_cache(), test_scores(dataset, config.batch_size, began, rows):  # auto measures within the time
        result = run_training(dataset, arch, config, run_dir, store)
    reached = next(((epoch, seconds) for epoch, seconds, accuracy in rows if accuracy >= TARGET), (None, None))
    return {
        "preset": preset,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "schedule": config.schedule,
        "precision": json.loads((run_dir / "config.json").read_text())["precision"],
        "origin": dataset.origin,
        "per_epoch": rows,
        "seconds_to_93": reached[1],
        "epoch_reaching_93": reached[0],
        "train_seconds": round(float(result.history[-1]["seconds"]), 1),
        "test_accuracy": round(result.test_accuracy, 4),
    }


def _row(r: dict) -> tuple[str, str]:
    reached = f"93 % after {r['seconds_to_93']:.0f} s (epoch {r['epoch_reaching_93']})" if r["seconds_to_93"] else "never 93 %"
    return (
        f"{r['preset']} ({r['epochs']} epochs, batch {r['batch_size']}, {r['schedule']}), {r['precision']['chosen']}",
        f"{reached}; final test accuracy {r['test_accuracy']:.2%} after {r['train_seconds']:.0f} s",
    )


def run() -> dict:
    from cnn_core.data import downloads
    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import DataConfig
    from cnn_core.training.build import prepare_tensorflow

    if downloads.find("fashion-mnist") is None:
        print("\nFashion-MNIST: skipped; install Debian's dataset-fashion-mnist (make test does, when root)")
        return {}
    prepare_tensorflow()
    dataset = load_dataset(DataConfig("fashion-mnist"))
    f32, auto = _train(dataset, "fashion-cnn", precision="float32"), _train(dataset, "fashion-cnn", precision="auto")
    fast_auto, fast_f32 = _train(dataset, "fashion-fast", precision="auto"), _train(dataset, "fashion-fast", precision="float32")
    ours = [f32, auto, fast_f32, fast_auto, _train(dataset, "keras-mnist", epochs=8, batch_size=64, precision="auto")]
    published = published_rows()
    rows = [_row(r) for r in ours]

    runs = {"cnn_f32": f32, "cnn_auto": auto, "fast_f32": fast_f32, "fast_auto": fast_auto}
    to_93 = {name: r["seconds_to_93"] for name, r in runs.items()} | {"today": TODAY_SECONDS}  # None: never reached
    compared = {  # key in latest.json: (row label, a, b), for a's time to 93 % over b's
        "auto_vs_float32_time_to_93": ("fashion-cnn: time to 93 %, auto / float32", "cnn_auto", "cnn_f32"),
        "fast_auto_vs_float32_time_to_93": ("fashion-fast: time to 93 %, auto / float32", "fast_auto", "fast_f32"),
        "fast_auto_vs_fashion_cnn_float32": ("time to 93 %: fashion-fast auto / fashion-cnn float32", "fast_auto", "cnn_f32"),
        "auto_vs_today": (f"fashion-cnn auto: time to 93 % / the issue's {TODAY_SECONDS} s", "cnn_auto", "today"),
        "fast_auto_vs_today": (f"fashion-fast auto: time to 93 % / the issue's {TODAY_SECONDS} s", "fast_auto", "today"),
    }
    ratios = {
        key: (label, round(to_93[a] / to_93[b], 3) if to_93[a] and to_93[b] else None) for key, (label, a, b) in compared.items()
    }
    rows += [(label, f"{value:.2f}x") for label, value in ratios.values() if value is not None]
    rows.append(("auto's reason (fashion-cnn)", auto["precision"]["reason"]))
    rows.append(("auto's reason (fashion-fast)", fast_auto["precision"]["reason"]))
    rows += [(f"published: {name}", f"{accuracy:.3f}") for name, accuracy in published]
    table(f"Fashion-MNIST, full (60,000 + 10,000 images), from {ours[0]['origin']}: time to {TARGET:.0%} test accuracy", rows)
    figures = {
        "runs": ours,
        **{key: value for key, (_, value) in ratios.items()},
        "published_range": [min(a for _, a in published), max(a for _, a in published)] if published else None,
    }
    save("fashion", figures)
    return figures
