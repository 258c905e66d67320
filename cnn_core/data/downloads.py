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
import json
import os
import pickle
import shutil
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core.access import classroom
from cnn_core.data import filechecks
from cnn_core.errors import StudioError
from cnn_core.paths import data_dir, keras_cache_dir, system_datasets_dir

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
    filechecks.check_mnist_npz(paths[0])  # the declared shapes, before np.load allocates them
    with np.load(paths[0], allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_idx(path: Path, header: int, most: int) -> np.ndarray:
    """An IDX file's bytes after its header, read with a cap: a file unpacking to more is refused."""
    with gzip.open(path, "rb") as f:
        data = f.read(header + most + 1)
    if len(data) > header + most:
        raise ValueError(f"{path.name} unpacks to more than Fashion-MNIST's {most:,} bytes")
    return np.frombuffer(data, np.uint8, offset=header)


def _read_fashion(paths: list[Path]) -> Arrays:
    y_train, y_test = _read_idx(paths[0], 8, 60_000), _read_idx(paths[2], 8, 10_000)
    x_train = _read_idx(paths[1], 16, 60_000 * 784).reshape(len(y_train), 28, 28)
    x_test = _read_idx(paths[3], 16, 10_000 * 784).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


CIFAR_BATCH_BYTES = 32 * 2**20  # each official batch is 31.0 MB: 10,000 images of 3,072 bytes and their labels


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if path.stat().st_size > CIFAR_BATCH_BYTES:
        raise ValueError(f"{path.name} holds {path.stat().st_size:,} bytes; a CIFAR-10 batch has about 31 MB")
    with open(path, "rb") as f:
        batch = filechecks.NumpyOnlyUnpickler(f, encoding="bytes").load()
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
        except (StudioError, OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError, zlib.error) as exc:
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
PLACEMENT_LOG = "placements.jsonl"  # in the data folder: who placed which file where, and its hash


def _check_copy(path: Path, kind: str, slot: str | None, digest: str) -> bool:
    """Whether `path` is Keras' own file for its kind; refuses the wrong slot, and copies in classroom mode."""
    if slot is not None and kind != slot:
        wanted = PLACEABLE.get(slot, slot)
        raise StudioError(f"this file is {PLACEABLE[kind]}, not {wanted}: nothing was placed")
    official = digest == filechecks.KERAS_SHA256[kind]
    if not official and classroom.enabled():
        raise StudioError(
            f"this is not the official {PLACEABLE[kind]} (its SHA-256 {digest[:12]}… differs from the one Keras pins, "
            f"{filechecks.KERAS_SHA256[kind][:12]}…): a classroom server places only the official file"
        )
    return official


def _record(who: str, kind: str, digest: str, official: bool, target: Path) -> None:
    """Append one line to the placement log: a shared cache changed, by whom, with which file."""
    entry = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "who": who, "slot": kind, "sha256": digest}
    entry |= {"official": official, "placed": str(target)}
    log = data_dir() / PLACEMENT_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def place_file(path: str | Path, slot: str | None = None, who: str = "cli") -> tuple[str, Path]:
    """Check a user's mnist.npz or cifar-10-python.tar.gz and place it in the Keras cache.

    Args:
        path: the file.
        slot: the dataset it was offered for ("mnist" or "cifar10"); a file of another kind is refused.
        who: recorded in the placement log (an owner tag, or "cli").

    Returns (dataset id, where it was placed). The file's kind comes from its content; declared
    sizes are checked before anything is decompressed. Written to a temporary name and renamed,
    so a refused or interrupted file leaves nothing behind.
    """
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"{path} is not a file")
    kind = filechecks.kind_of(path)
    digest = filechecks.file_digest(path)
    official = _check_copy(path, kind, slot, digest)
    cache = keras_cache_dir()
    if kind == "mnist":
        filechecks.check_mnist_file(path)
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / "mnist.npz"
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".mnist-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    else:
        batches = filechecks.cifar_batches(path, CIFAR_MEMBERS, CIFAR_BATCH_BYTES)
        target = _place_cifar(batches, cache)
    _record(who, kind, digest, official, target)
    return kind, target


def _place_cifar(batches: dict[str, bytes], cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
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
    return target


def _as_images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.uint8)
    return x[..., None] if x.ndim == 3 else x
