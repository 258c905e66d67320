"""Keras' download-backed datasets (MNIST, Fashion-MNIST, CIFAR-10), read from Keras' own cache.

A cached copy is parsed here, in the files' own formats, without importing TensorFlow. When no
copy is cached, Keras' real `load_data()` downloads one; offline that fails, and the user gets a
message naming the files and the folder where they can be placed by hand.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core.errors import StudioError
from cnn_core.paths import keras_cache_dir

KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FASHION_FILES = [
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
]
CIFAR_DIR = "cifar-10-batches-py-target/cifar-10-batches-py"
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Download:
    """One Keras dataset: where its files live in the cache and how to read them."""

    keras_name: str
    files: list[str]
    origin: str

    def cached_paths(self) -> list[Path]:
        return [keras_cache_dir() / f for f in self.files]


DOWNLOADS = {
    "mnist": Download("mnist", ["mnist.npz"], KERAS_BASE + "mnist.npz"),
    "fashion-mnist": Download("fashion_mnist", [f"fashion-mnist/{f}" for f in FASHION_FILES], KERAS_BASE),
    "cifar10": Download(
        "cifar10", [f"{CIFAR_DIR}/{f}" for f in CIFAR_FILES], "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    ),
}


def _read_mnist(paths: list[Path]) -> Arrays:
    with np.load(paths[0], allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header)


def _read_fashion(paths: list[Path]) -> Arrays:
    y_train, y_test = _read_idx(paths[0], 8), _read_idx(paths[2], 8)
    x_train = _read_idx(paths[1], 16).reshape(len(y_train), 28, 28)
    x_test = _read_idx(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles: allow only what rebuilds numpy arrays, never arbitrary code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a dataset file")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        batch = _NumpyOnlyUnpickler(f, encoding="bytes").load()
    data = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return data, np.asarray(batch[b"labels"], np.int64)


def _read_cifar(paths: list[Path]) -> Arrays:
    parts = [_read_cifar_batch(p) for p in paths[:5]]
    x_train = np.concatenate([x for x, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    return (x_train, y_train), _read_cifar_batch(paths[5])


READERS = {"mnist": _read_mnist, "fashion-mnist": _read_fashion, "cifar10": _read_cifar}


def _keras_download(dataset_id: str) -> Arrays:
    """Keras' own download-and-cache code (imports TensorFlow; needs the internet the first time)."""
    import keras

    return getattr(keras.datasets, DOWNLOADS[dataset_id].keras_name).load_data()


def offline_message(dataset_id: str, reason: str) -> str:
    """What to place where when a Keras dataset is neither cached nor downloadable."""
    spec = DOWNLOADS[dataset_id]
    files = ", ".join(spec.files)
    return (
        f"{dataset_id} is not in the Keras cache and could not be downloaded ({reason}). "
        f"Place {files} (from {spec.origin}) in {keras_cache_dir()}, "
        "or choose a bundled dataset: mnist-5k, digits or shapes."
    )


def load_keras_dataset(dataset_id: str) -> Arrays:
    """((x_train, y_train), (x_test, y_test)) as `uint8` images and integer labels."""
    spec = DOWNLOADS[dataset_id]
    paths = spec.cached_paths()
    if all(p.exists() for p in paths):
        try:
            arrays = READERS[dataset_id](paths)
        except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
            raise StudioError(
                f"the cached copy of {dataset_id} in {keras_cache_dir()} is damaged ({exc}); delete it and try again"
            ) from None
    else:
        try:
            arrays = _keras_download(dataset_id)
        except Exception as exc:  # noqa: BLE001 - Keras raises bare Exception for URL failures
            raise StudioError(offline_message(dataset_id, str(exc).split(" -- ")[-1][:120])) from None
    (x_train, y_train), (x_test, y_test) = arrays
    return (_as_images(x_train), y_train.reshape(-1).astype(np.int64)), (_as_images(x_test), y_test.reshape(-1).astype(np.int64))


def _as_images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.uint8)
    return x[..., None] if x.ndim == 3 else x
