"""Training throughput: the app's path (job thread, LiveMetrics, history writer, TensorBoard, tf.data)
against plain `model.fit` on the same model, data and batch size; and the accuracy of keras-mnist on
mnist-5k after 5 epochs.

This virtual machine has spells of several seconds in which everything runs at about half speed
(plain `fit` included), so: each repeat's speed is the median of its epochs after the first (which
traces), the two paths alternate in ABBA order, and the figure is the median of the pairs' ratios."""

from __future__ import annotations

import tempfile
import time

from bench.common import median, save, table

EPOCHS, BATCH, PAIRS = 5, 64, 7


def _epoch_rate(train_size: int, stamps: list[float]) -> float:
    """Images per second: the median over epochs 2.. of one run, from the times each epoch ended."""
    return median([train_size / (b - a) for a, b in zip(stamps, stamps[1:])])


def _app_path(dataset, arch, config) -> float:
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.runs.store import RunStore

    registry = JobRegistry(1)
    job = registry.submit(dataset, arch, config, "bench", RunStore(tempfile.mkdtemp()))
    while job.active:  # poll as the page does, so the benchmark includes that reader too
        job.snapshot()
        time.sleep(1.0)
    job.wait()
    return _epoch_rate(len(dataset.train), [row["seconds"] for row in job.snapshot().history])


def _plain_fit(dataset, arch, config) -> float:
    import keras

    from cnn_core.model.builder import build_model

    keras.utils.set_random_seed(config.seed)
    model = build_model(arch.spec(), dataset.input_shape, dataset.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    stamps = []
    timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()))
    model.fit(
        dataset.train.images,
        dataset.train.labels,
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=True,
        validation_data=(dataset.validation.images, dataset.validation.labels),
        callbacks=[timer],
        verbose=0,
    )
    return _epoch_rate(len(dataset.train), stamps)


def run() -> dict:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    dataset, arch = load_dataset(DataConfig("mnist-5k")), ArchChoice("keras-mnist")
    config = TrainConfig(epochs=EPOCHS, batch_size=BATCH)
    app, plain, ratios = [], [], []
    for k in range(PAIRS):
        first, second = (_app_path, _plain_fit) if k % 2 == 0 else (_plain_fit, _app_path)
        rates = {first: first(dataset, arch, config), second: second(dataset, arch, config)}
        app.append(rates[_app_path])
        plain.append(rates[_plain_fit])
        ratios.append(app[-1] / plain[-1])
    figures = {
        "app_images_per_s": round(median(app)),
        "plain_images_per_s": round(median(plain)),
        "ratio_median": round(median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
    }
    figures["keras_mnist_5_epochs_test_accuracy"] = round(_accuracy(dataset, arch), 4)
    table(
        f"Training throughput: keras-mnist on mnist-5k, batch 64 (epochs 2-{EPOCHS}; {PAIRS} pairs in ABBA order)",
        [
            ("app path (job thread, callbacks, tf.data)", f"{figures['app_images_per_s']:,} images/s"),
            ("plain model.fit", f"{figures['plain_images_per_s']:,} images/s"),
            ("ratio app / plain, median of pairs (goal >= 0.97)", f"{figures['ratio_median']}  (each pair: {figures['ratios']})"),
            ("keras-mnist, 5 epochs: test accuracy (goal >= 0.95)", f"{figures['keras_mnist_5_epochs_test_accuracy']:.2%}"),
        ],
    )
    save("training", figures)
    return figures


def _accuracy(dataset, arch) -> float:
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import TrainConfig
    from cnn_core.training.fit import run_config, run_training

    store, config = RunStore(tempfile.mkdtemp()), TrainConfig(epochs=5, batch_size=BATCH)
    return run_training(dataset, arch, config, store.new_run(run_config(dataset, arch, config), arch.preset), store).test_accuracy
