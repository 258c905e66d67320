"""Out-of-fold class probabilities: every training image predicted by a model that never saw it.

The training split is cut into k stratified folds; one model per fold trains on the other folds
(the app's own model, precision, loss and optimizer, see `training.fit.compiled_model`) and
predicts the fold it left out. In this process each fold training holds a training slot of the
job registry, so it queues like any other job; with the Ray backend on, the folds run as parallel
Ray tasks. The probabilities are cached as .npz under `paths.data_dir()/label_issues/`, keyed by
everything that shapes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnn_core import paths
from cnn_core.data.datasets import Dataset, Split
from cnn_core.errors import StudioError
from cnn_core.settings.config import ArchChoice, TrainConfig

MAX_FOLDS = 20
FOLDS_HELP = f"a number of folds from 2 to {MAX_FOLDS}"


class Cancelled(StudioError):
    """The fold trainings were cancelled before they finished."""


@dataclasses.dataclass
class FoldProgress:
    """Where the fold trainings are: fold `fold` of `folds` (1-based), epoch `epoch` of `epochs`;
    `epoch` is None when it is not known (Ray tasks say only when a fold is done)."""

    fold: int
    folds: int
    epoch: int | None
    epochs: int
    done: int = 0  # folds finished

    @property
    def fraction(self) -> float:
        return min(1.0, (self.done + (self.epoch or 0) / (self.epochs or 1)) / self.folds) if self.folds else 1.0

    @property
    def text(self) -> str:
        if self.done >= self.folds:
            return f"all {self.folds} folds trained"
        if self.epoch is None:
            return f"{self.done} of {self.folds} folds done (they train side by side on the Ray cluster)"
        return f"fold {self.fold} of {self.folds}, epoch {self.epoch} of {self.epochs} ({self.done} fold(s) done)"


def check_folds(folds, size: int) -> int:
    """`folds` as an int within 2..MAX_FOLDS and at most the training images; StudioError otherwise."""
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or not 2 <= int(folds) <= MAX_FOLDS:
        raise StudioError(f"folds must be {FOLDS_HELP}, not {folds!r}")
    if int(folds) > size:
        raise StudioError(f"{folds} folds need at least {folds} training images; this training split has {size}")
    return int(folds)


def assign_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each image's fold (0..folds-1): every class dealt out in turn over a seeded shuffle, so each
    fold holds about the same share of every class (stratified)."""
    rng = np.random.default_rng([seed, folds])
    fold_of = np.empty(len(labels), np.int64)
    offset = 0
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        fold_of[idx] = (np.arange(len(idx)) + offset) % folds  # a class's remainder starts where the last one stopped
        offset += len(idx)
    return fold_of


def fold_config(config: TrainConfig, epochs: int | None) -> TrainConfig:
    """The run's settings for a fold model: `epochs` when given; no early stopping (no validation data)."""
    changes = {"early_stopping": False}
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise StudioError(f"epochs must be a whole number of at least 1, not {epochs!r}")
        changes["epochs"] = int(epochs)
    fields = {f.name for f in dataclasses.fields(config)}
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if k in fields})


def cache_key(dataset: Dataset, arch: ArchChoice, config: TrainConfig, folds: int) -> str:
    """The hex name of the probabilities' cache file: dataset (id with version) and data settings,
    the labels themselves, architecture, train settings (epochs and seed among them) and folds."""
    labels = np.ascontiguousarray(dataset.train.labels, np.int64)
    text = json.dumps(
        {
            "data": dataset.config.to_dict(),
            "labels": hashlib.sha256(labels.tobytes()).hexdigest(),
            "shape": list(dataset.input_shape),
            "arch": arch.to_dict(),
            "train": config.to_dict(),
            "folds": folds,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_dir() -> Path:
    return paths.data_dir() / "label_issues"


def read_cache(key: str, size: int, classes: int) -> np.ndarray | None:
    """The cached probabilities (size, classes), or None when absent, the wrong size or damaged."""
    path = cache_dir() / f"{key}.npz"
    try:
        if not path.is_file() or path.stat().st_size > size * classes * 4 + 4096:  # float32 and the npz's headers
            return None
        with np.load(path, allow_pickle=False) as found:
            probabilities = np.asarray(found["probabilities"], np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # damaged: computed again
        return None
    if probabilities.shape != (size, classes) or not np.isfinite(probabilities).all():
        return None
    return probabilities


def write_cache(key: str, probabilities: np.ndarray) -> None:
    """Write atomically (a temporary file renamed), so a reader never sees half a file."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
        np.savez(handle, probabilities=probabilities.astype(np.float32))
    Path(handle.name).replace(folder / f"{key}.npz")


Progress = Callable[[FoldProgress], None]


def out_of_fold(
    dataset: Dataset,
    arch: ArchChoice,
    config: TrainConfig,
    folds: int = 5,
    epochs: int | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    owner: str = "",
) -> np.ndarray:
    """Out-of-fold probabilities (n, classes) for the training split, from the cache when there.

    Args:
        epochs: each fold model's epochs (default: the run's).
        progress: told where the trainings are (a `FoldProgress`), at least once per epoch.
        cancelled: polled between batches; when it says True, `Cancelled` is raised.
        owner: whose slot the fold trainings take in the job registry (class limits apply to it).
    """
    train = dataset.train
    folds = check_folds(folds, len(train))
    config = fold_config(config, epochs)
    config.check()
    arch.spec()
    key = cache_key(dataset, arch, config, folds)
    found = read_cache(key, len(train), dataset.num_classes)
    if found is not None:
        return found
    fold_of = assign_folds(np.asarray(train.labels), folds, config.seed)
    from cnn_core.jobs import cluster

    run = _on_cluster if cluster.address() else _in_process
    probabilities = run(dataset, arch, config, fold_of, folds, progress or (lambda p: None), cancelled or (lambda: False), owner)
    write_cache(key, probabilities)
    return probabilities


def _in_process(dataset, arch, config, fold_of, folds, progress, cancelled, owner) -> np.ndarray:
    from cnn_core.jobs.registry import JOBS

    probabilities = np.zeros((len(dataset.train), dataset.num_classes), np.float32)
    for fold in range(folds):
        ticket = object()
        progress(FoldProgress(fold + 1, folds, 0, config.epochs, fold))
        if not JOBS.acquire(ticket, cancelled, owner):
            raise Cancelled("the fold trainings were cancelled")
        try:
            held = fold_of == fold

            def tell(epoch: int, fold=fold) -> None:
                progress(FoldProgress(fold + 1, folds, epoch, config.epochs, fold))

            probabilities[held] = train_fold(dataset, arch, config, held, tell, cancelled)
        finally:
            JOBS.release(ticket)
    progress(FoldProgress(folds, folds, config.epochs, config.epochs, folds))
    return probabilities


def _subset(split: Split, chosen: np.ndarray) -> Split:
    index = np.flatnonzero(chosen)
    return Split(split.images.take(index, axis=0), np.asarray(split.labels)[index])


def train_fold(
    dataset: Dataset, arch: ArchChoice, config: TrainConfig, held: np.ndarray, tell=None, cancelled=None, scratch=None
):
    """Train on the training images outside `held` (a boolean mask), then predict those in it.

    `scratch` is where the model's precision choice is recorded for a moment (default: under the
    app's data folder; a Ray worker gives its own temporary folder, as its jobs do)."""
    import keras

    from cnn_core.data.pipeline import steps_per_epoch, training_batches
    from cnn_core.inspection.evaluation import predict_split
    from cnn_core.training.fit import Start, compiled_model

    tell, cancelled = tell or (lambda e: None), cancelled or (lambda: False)
    fit_on, predict_on = _subset(dataset.train, ~held), _subset(dataset.train, held)
    steps = steps_per_epoch(len(fit_on), config.batch_size)
    fold_data = dataclasses.replace(dataset, train=fit_on)
    scratch = Path(tempfile.mkdtemp(prefix="fold-", dir=scratch or _scratch_root()))
    try:
        (scratch / "config.json").write_text("{}", encoding="utf-8")  # precision.for_run records its choice here
        model = compiled_model(fold_data, arch, config, Start(), steps, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if cancelled():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            tell(epoch + 1)

    batches = training_batches(fit_on, config.batch_size, config.seed)
    model.fit(batches, epochs=config.epochs, steps_per_epoch=steps, callbacks=[Watch()], verbose=0, shuffle=False)
    if cancelled():
        raise Cancelled("the fold trainings were cancelled")
    return predict_split(model, predict_on.images)


def _scratch_root() -> Path:
    folder = cache_dir() / "work"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _on_cluster(dataset, arch, config, fold_of, folds, progress, cancelled, owner) -> np.ndarray:
    """One Ray task per fold, all submitted at once: the cluster runs as many side by side as it has CPUs."""
    from cnn_core.jobs import cluster, warm

    ray = cluster.connect()
    warm.drain()  # this server's idle actors give their CPUs to the folds
    resources = cluster.job_resources()
    images = dataset.train.images
    if not isinstance(images, np.ndarray):
        raise StudioError(
            "this folder is read from disk as it trains (too large for memory), so its folds cannot go to "
            "the Ray cluster through the object store; find its label issues with the backend off"
        )
    shipped = ray.put((images, np.asarray(dataset.train.labels)))
    task = ray.remote(_fold_task).options(**resources, max_retries=0)
    plain = (dataset.class_names, arch.to_dict(), config.to_dict())
    pending = {task.remote(shipped, fold_of == fold, *plain): fold for fold in range(folds)}
    probabilities = np.zeros((len(dataset.train), dataset.num_classes), np.float32)
    done = 0
    progress(FoldProgress(1, folds, None, config.epochs, 0))  # a Ray task reports no epochs, only its end
    try:
        while pending:
            if cancelled():
                raise Cancelled("the fold trainings were cancelled")
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                fold = pending.pop(ref)
                probabilities[fold_of == fold] = ray.get(ref)
                done += 1
                progress(FoldProgress(min(done + 1, folds), folds, None, config.epochs, done))
    finally:
        for ref in pending:  # cancelled, or a fold failed: the others stop too
            ray.cancel(ref, force=True)
    return probabilities


def _fold_task(shipped, held, class_names, arch, config) -> np.ndarray:
    """A fold training on a Ray worker: the data comes through the object store, the rest as plain data."""
    from cnn_core.data.datasets import DatasetSpec
    from cnn_core.settings.config import DataConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    images, labels = shipped
    empty = Split(images[:0], labels[:0])
    spec = DatasetSpec("fold", "fold", "generated", "", "", lambda *a: None)
    dataset = Dataset(spec, DataConfig(), list(class_names), Split(images, labels), empty, empty)
    arch, config = ArchChoice.from_dict(arch), TrainConfig.from_dict(config)
    return train_fold(dataset, arch, config, np.asarray(held), scratch=tempfile.gettempdir())
