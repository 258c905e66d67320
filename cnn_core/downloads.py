"""Keras' download-backed datasets (MNIST, Fashion-MNIST, CIFAR-10): found on disk, or downloaded.

Where the files are looked for, in order:
1. a Debian package's folder: `dataset-fashion-mnist` installs the four official Fashion-MNIST
   files in `/usr/share/datasets/fashion-mnist/`;
2. Keras' own cache (`~/.keras/datasets`), where a download or `place_file` puts them;
3. Keras' real `load_data()`, which downloads them; offline that fails, and the user gets a message
   naming the files, the folder where they can be placed, and the Debian package when there is one.
Files on disk are parsed here, in their own formats, without importing TensorFlow.

`place_file` checks a user's `mnist.npz` or `cifar-10-python.tar.gz` (a copy handed out on a USB
stick) and puts its contents in the Keras cache; a file of the wrong kind, a truncated one or one
whose arrays have the wrong shapes is refused and nothing is placed.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core.errors import StudioError
from cnn_core.paths import keras_cache_dir, system_datasets_dir

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
    debian_package: str | None = None  # a Debian package that installs the same files

    def cached_paths(self) -> list[Path]:
        return [keras_cache_dir() / f for f in self.files]

    def debian_paths(self) -> list[Path]:
        return [system_datasets_dir() / f for f in self.files] if self.debian_package else []


@dataclass(frozen=True)
class Found:
    """Where a dataset's files are on this machine, in words for the Data page."""

    paths: list[Path]
    origin: str


DOWNLOADS = {
    "mnist": Download("mnist", ["mnist.npz"], KERAS_BASE + "mnist.npz"),
    "fashion-mnist": Download(
        "fashion_mnist", [f"fashion-mnist/{f}" for f in FASHION_FILES], KERAS_BASE, "dataset-fashion-mnist"
    ),
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


def find(dataset_id: str) -> Found | None:
    """The dataset's files on this machine (Debian package first, then the Keras cache), or None."""
    spec = DOWNLOADS[dataset_id]
    for paths, origin in [
        (spec.debian_paths(), f"Debian package {spec.debian_package} ({system_datasets_dir() / Path(spec.files[0]).parent})"),
        (spec.cached_paths(), f"Keras cache ({keras_cache_dir()})"),
    ]:
        if paths and all(p.is_file() for p in paths):
            return Found(paths, origin)
    return None


def offline_message(dataset_id: str, reason: str) -> str:
    """What to place where (or install) when a Keras dataset is neither on disk nor downloadable."""
    spec = DOWNLOADS[dataset_id]
    package = f"install Debian's package: sudo apt-get install {spec.debian_package}; or " if spec.debian_package else ""
    upload = " (or upload the file on the Data page, or run: python -m cnn_core place FILE)" if dataset_id in PLACEABLE else ""
    return (
        f"{dataset_id} is not on this machine and could not be downloaded ({reason}). To use it offline, "
        f"{package}place {', '.join(spec.files)} (from {spec.origin}) in {keras_cache_dir()}{upload}; "
        "or choose a bundled dataset: mnist-5k, digits or shapes."
    )


def load_keras_dataset(dataset_id: str) -> tuple[Arrays, str]:
    """((x_train, y_train), (x_test, y_test)) as `uint8` images and integer labels, and where they came from."""
    found = find(dataset_id)
    if found is not None:
        try:
            arrays = READERS[dataset_id](found.paths)
        except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError, zlib.error) as exc:
            raise StudioError(
                f"the copy of {dataset_id} in the {found.origin} is damaged ({exc}); delete it and try again"
            ) from None
        origin = found.origin
    else:
        try:
            arrays = _keras_download(dataset_id)
        except Exception as exc:  # noqa: BLE001 - Keras raises bare Exception for URL failures
            raise StudioError(offline_message(dataset_id, str(exc).split(" -- ")[-1][:120])) from None
        origin = f"downloaded by Keras into {keras_cache_dir()}"
    (x_train, y_train), (x_test, y_test) = arrays
    train = (_as_images(x_train), y_train.reshape(-1).astype(np.int64))
    return (train, (_as_images(x_test), y_test.reshape(-1).astype(np.int64))), origin


# Placing a user's file in the Keras cache.

PLACEABLE = {"mnist": "mnist.npz", "cifar10": "cifar-10-python.tar.gz"}
CIFAR_MEMBERS = {f"cifar-10-batches-py/{f}" for f in CIFAR_FILES}


def _check_arrays(name: str, x: np.ndarray, y: np.ndarray, image_shape: tuple[int, ...], classes: int = 10) -> None:
    if x.ndim != 1 + len(image_shape) or tuple(x.shape[1:]) != image_shape or x.dtype != np.uint8:
        raise StudioError(
            f"{name} holds images of shape {tuple(x.shape)} ({x.dtype}); expected (n, {', '.join(map(str, image_shape))}) uint8"
        )
    if y.shape != (len(x),):
        raise StudioError(f"{name} holds {len(x)} images but labels of shape {tuple(y.shape)}")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise StudioError(f"{name} has labels outside 0-{classes - 1}")


def _check_mnist(path: Path) -> None:
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if missing:
                raise StudioError(f"this .npz file is not MNIST: it lacks {', '.join(sorted(missing))}")
            for part in ("train", "test"):
                _check_arrays(f"its {part} split", f[f"x_{part}"], f[f"y_{part}"], (28, 28))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise StudioError(f"this file is not a readable mnist.npz ({exc})") from None


def _cifar_batches(path: Path) -> dict[str, bytes]:
    """The six CIFAR-10 batch files of a `cifar-10-python.tar.gz`, each checked."""
    batches = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if member.name in CIFAR_MEMBERS and member.isfile():
                    batches[Path(member.name).name] = archive.extractfile(member).read()
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise StudioError(f"this file is not a complete cifar-10-python.tar.gz ({exc})") from None
    missing = sorted(set(CIFAR_FILES) - set(batches))
    if missing:
        raise StudioError(f"this archive is not CIFAR-10 (python version): it lacks {', '.join(missing)}")
    for name, data in batches.items():
        try:
            batch = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
            x = np.asarray(batch[b"data"])
            y = np.asarray(batch[b"labels"], np.int64)
        except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
            raise StudioError(f"{name} in this archive is not a CIFAR-10 batch ({exc})") from None
        _check_arrays(name, x, y, (3072,))
    return batches


def _kind_of(path: Path) -> str:
    """'mnist' or 'cifar10', by the file's content (a zip or a gzip), not by its name."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        return "mnist"
    if head.startswith(b"\x1f\x8b"):
        return "cifar10"
    raise StudioError("this file is neither mnist.npz nor cifar-10-python.tar.gz")


def place_file(path: str | Path) -> tuple[str, Path]:
    """Check a user's mnist.npz or cifar-10-python.tar.gz and place it in the Keras cache.

    Returns (dataset id, where it was placed). Written to a temporary name and renamed, so a
    refused or interrupted file leaves nothing behind.
    """
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"{path} is not a file")
    kind = _kind_of(path)
    cache = keras_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if kind == "mnist":
        _check_mnist(path)
        target = cache / "mnist.npz"
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".mnist-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        return kind, target
    batches = _cifar_batches(path)
    target = cache / CIFAR_DIR
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=".cifar-"))
    try:
        for name, data in batches.items():
            (staging / name).write_bytes(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return kind, target


def _as_images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.uint8)
    return x[..., None] if x.ndim == 3 else x
