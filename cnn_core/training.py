"""Training: one synchronous `run_training` shared by the CLI and the app, and background jobs.

A `TrainingJob` runs `run_training` in a thread owned by the server process, so page reruns and
clicks never interrupt it. Jobs live in `JOBS`, a process-level registry keyed by run id; at most
`max_running` train at once and the rest wait in a queue.
"""

from __future__ import annotations

import math
import os
import platform
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from cnn_core.config import SETTINGS_VERSION, ArchChoice, TrainConfig
from cnn_core.datasets import Dataset, Split
from cnn_core.ingest import ImageFiles
from cnn_core.live import LiveRecord
from cnn_core.runs import RunStore
from cnn_core.summary import plan


def prepare_tensorflow() -> None:
    """Import TensorFlow, Keras and the training modules in the calling thread.

    A module imported for the first time inside a worker thread while another thread imports it
    can fail as "partially initialized", so the script thread does it before starting a job.
    """
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    import cnn_core.builder  # noqa: F401
    import cnn_core.callbacks  # noqa: F401


def choose_strategy():
    """MirroredStrategy over several GPUs; otherwise TensorFlow's default strategy."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def pipeline(split: Split, batch_size: int, shuffle: bool, seed: int):
    """A `tf.data` pipeline of `uint8` batches (scaled inside the model) with prefetch.

    Only indices go through tf.data (shuffled, batched); each batch is gathered from the split's
    own array, or decoded from disk for folders larger than memory. Nothing is copied into
    TensorFlow: `from_tensor_slices` plus a full shuffle buffer would hold the images twice more.
    """
    import tensorflow as tf

    images, labels = split.images, np.asarray(split.labels, np.int64)

    def gather(indices):
        indices = np.sort(indices) if isinstance(images, ImageFiles) else indices
        return np.asarray(images[indices], np.uint8), labels[indices]

    def load(indices):
        x, y = tf.numpy_function(gather, [indices], [tf.uint8, tf.int64], stateful=False)
        return tf.ensure_shape(x, (None, *images.shape[1:])), tf.ensure_shape(y, (None,))

    ds = tf.data.Dataset.range(len(split))
    if shuffle:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def make_optimizer(config: TrainConfig):
    import keras

    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)
    return {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[config.optimizer](config.learning_rate)


def augmentation_layers(config: TrainConfig) -> list:
    """Keras preprocessing layers, active only while training (Keras skips them in inference)."""
    import keras

    L, seed = keras.layers, config.seed
    layers = [L.RandomFlip("horizontal", seed=seed)] if config.flip else []
    if config.rotation:
        layers.append(L.RandomRotation(config.rotation / 360, seed=seed))  # Keras counts in turns
    if config.zoom:
        layers.append(L.RandomZoom(config.zoom, seed=seed))
    if config.translation:
        layers.append(L.RandomTranslation(config.translation, config.translation, seed=seed))
    return layers


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy", "streamlit"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def run_config(dataset: Dataset, arch: ArchChoice, config: TrainConfig, owner: str = "") -> dict:
    """What config.json records: enough to rebuild the data, the model and the settings.

    `owner` is the owner tag (see `runs.owner_tag`) of the session that started the run, or "cli".
    """
    spec = arch.spec()
    model_plan = plan(spec, dataset.input_shape, dataset.num_classes, config.dropout)
    return {
        "data": dataset.config.to_dict(),
        "dataset": dataset.record(),
        "architecture": {**arch.to_dict(), "name": spec.name, "layers": spec.layers, "params": model_plan.total_params},
        "train": config.to_dict(),
        "settings_version": SETTINGS_VERSION,
        "owner": owner,
        "versions": versions(),
        "name": "",
        "note": "",
    }


@dataclass
class TrainResult:
    run_dir: Path
    status: str
    message: str = ""
    test_loss: float | None = None
    test_accuracy: float | None = None
    history: list[dict] = field(default_factory=list)


def run_training(
    dataset: Dataset,
    arch: ArchChoice,
    config: TrainConfig,
    run_dir: Path,
    store: RunStore,
    record: LiveRecord | None = None,
    stop: threading.Event | None = None,
    report=None,
) -> TrainResult:
    """Build, train, evaluate on the test split and save; every outcome ends in a saved status."""
    import keras

    from cnn_core.builder import build_model
    from cnn_core.callbacks import EpochReporter, EpochTensorBoard, HistoryWriter, LiveMetrics, StopOnDivergence

    stop = stop or threading.Event()
    record = record or new_record(dataset, config)
    keras.utils.set_random_seed(config.seed)
    with choose_strategy().scope():
        model = build_model(
            arch.spec(), dataset.input_shape, dataset.num_classes, config.dropout, augmentation_layers(config), config.batch_size
        )
        model.compile(optimizer=make_optimizer(config), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    divergence = StopOnDivergence(config.learning_rate)
    callbacks = [
        LiveMetrics(record, stop),
        divergence,
        HistoryWriter(store, run_dir, record),
        EpochTensorBoard(str(run_dir / "tensorboard")),
    ]
    if config.early_stopping and len(dataset.validation):
        callbacks.append(keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True))
    if report:
        callbacks.append(EpochReporter(report))
    store.set_status(run_dir, "running")
    train = pipeline(dataset.train, config.batch_size, True, config.seed)
    validation = pipeline(dataset.validation, config.batch_size, False, config.seed) if len(dataset.validation) else None
    model.fit(train, validation_data=validation, epochs=config.epochs, callbacks=callbacks, verbose=0, shuffle=False)
    history = record.snapshot().history
    if divergence.message:
        return _finish(store, run_dir, record, "failed", divergence.message, history)
    status = "stopped" if stop.is_set() else "completed"
    scores = model.evaluate(pipeline(dataset.test, config.batch_size, False, config.seed), return_dict=True, verbose=0)
    metrics = {"test_loss": float(scores["loss"]), "test_accuracy": float(scores["accuracy"]), "test_size": len(dataset.test)}
    store.write_metrics(run_dir, metrics)
    store.save_model(run_dir, model)
    message = "stopped by request; the model keeps what it learned" if status == "stopped" else ""
    return _finish(store, run_dir, record, status, message, history, metrics)


def _finish(store, run_dir, record, status, message, history, metrics=None) -> TrainResult:
    store.set_status(run_dir, status, message)
    record.set_status(status, message)
    metrics = metrics or {}
    return TrainResult(run_dir, status, message, metrics.get("test_loss"), metrics.get("test_accuracy"), history)


def new_record(dataset: Dataset, config: TrainConfig) -> LiveRecord:
    steps = math.ceil(len(dataset.train) / config.batch_size)
    return LiveRecord(config.epochs, steps, config.batch_size, len(dataset.train))


def default_max_jobs() -> int:
    return int(os.environ.get("CNN_STUDIO_MAX_JOBS", max(1, (os.cpu_count() or 2) // 2)))
