"""Checks on dataset files made before their contents are read: hashes, declared sizes, kinds.

A `.npz` holds `.npy` members whose headers declare each array's shape and type: they are read
(a few hundred bytes each) and checked against what the dataset can hold before `np.load`
allocates anything. A tar's members declare their sizes in their headers: they are checked, with a
running total, before any member is read. Keras pins the SHA-256 of the files it downloads; the
same pins tell an official copy from any other.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from cnn_core.errors import StudioError

# The SHA-256 that keras/src/datasets/mnist.py and cifar10.py pass to get_file as `file_hash`.
KERAS_SHA256 = {
    "mnist": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "cifar10": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
}


def file_digest(path: str | Path) -> str:
    """The file's SHA-256 (hex), read in 1 MB chunks rather than whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def kind_of(path: Path) -> str:
    """'mnist' or 'cifar10', by the file's content (a zip or a gzip), not by its name."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        return "mnist"
    if head.startswith(b"\x1f\x8b"):
        return "cifar10"
    raise StudioError("this file is neither mnist.npz nor cifar-10-python.tar.gz")


def npz_headers(path: str | Path, label: str = ".npz") -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array's declared (shape, dtype) in a `.npz`, from the `.npy` headers alone.

    Refuses object arrays and members whose declared data is larger than the member itself
    (a header that lies about its size), so `np.load` afterwards allocates only what is there.
    """
    found = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    version = npy.read_magic(member)
                    reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                    shape, _, dtype = reader(member, max_header_size=10_000)
                    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    if dtype.hasobject or declared > info.file_size:
                        raise StudioError(
                            f"{info.filename} declares {_shape_text(shape)} {dtype} ({declared:,} bytes) "
                            f"in {info.file_size:,} bytes: not a plain array file"
                        )
                    found[info.filename.removesuffix(".npy")] = (tuple(shape), dtype)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise StudioError(f"this file is not a readable {label} ({exc})") from None
    return found


def _shape_text(shape) -> str:
    return "(" + ", ".join(f"{d:,}" for d in shape) + ")"


def check_mnist_npz(path: str | Path, max_train: int = 60_000, max_test: int = 10_000) -> None:
    """Refuse an `mnist.npz` whose headers declare anything but MNIST's arrays, before reading them."""
    headers = npz_headers(path, "mnist.npz")
    missing = {"x_train", "y_train", "x_test", "y_test"} - set(headers)
    if missing:
        raise StudioError(f"this .npz file is not MNIST: it lacks {', '.join(sorted(missing))}")
    for part, most in (("train", max_train), ("test", max_test)):
        (shape, dtype), (labels, _) = headers[f"x_{part}"], headers[f"y_{part}"]
        if len(shape) != 3 or shape[1:] != (28, 28) or dtype != np.uint8:
            raise StudioError(
                f"its {part} split holds images of shape {_shape_text(shape)} ({dtype}); expected (n, 28, 28) uint8"
            )
        if shape[0] > most:
            raise StudioError(f"its {part} split declares {shape[0]:,} images; MNIST has {most:,}")
        if labels != (shape[0],):
            raise StudioError(f"its {part} split holds {shape[0]:,} images but labels of shape {_shape_text(labels)}")


def read_tar_members(
    path: str | Path, wanted: set[str], max_member: int, max_total: int, max_members: int = 64, label: str = ".tar.gz"
) -> dict[str, bytes]:
    """The `wanted` regular files of a `.tar.gz`, each read only after its declared size passed the caps.

    Every member's header counts towards `max_members` and `max_total`, read or not, so a huge
    member is refused from its header before it is decompressed.
    """
    found, total = {}, 0
    try:
        with tarfile.open(path, "r:gz") as archive:
            for count, member in enumerate(archive, start=1):
                total += member.size
                if count > max_members or member.size > max_member or total > max_total:
                    raise StudioError(
                        f"{member.name} declares {member.size:,} bytes ({total:,} so far, member {count}); this archive "
                        f"may hold at most {max_members} members of {max_member:,} bytes, {max_total:,} in all"
                    )
                if member.name in wanted and member.isfile():
                    found[member.name] = archive.extractfile(member).read(member.size)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise StudioError(f"this file is not a complete {label} ({exc})") from None
    return found


class NumpyOnlyUnpickler(pickle.Unpickler):
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


def _check_arrays(name: str, x: np.ndarray, y: np.ndarray, image_shape: tuple[int, ...], classes: int = 10) -> None:
    if x.ndim != 1 + len(image_shape) or tuple(x.shape[1:]) != image_shape or x.dtype != np.uint8:
        raise StudioError(
            f"{name} holds images of shape {tuple(x.shape)} ({x.dtype}); expected (n, {', '.join(map(str, image_shape))}) uint8"
        )
    if y.shape != (len(x),):
        raise StudioError(f"{name} holds {len(x)} images but labels of shape {tuple(y.shape)}")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise StudioError(f"{name} has labels outside 0-{classes - 1}")


def check_mnist_file(path: Path) -> None:
    """The headers, then the arrays themselves (shapes, types, labels 0-9) of a user's mnist.npz."""
    check_mnist_npz(path)  # headers first: nothing is allocated for a file that lies about its size
    try:
        with np.load(path, allow_pickle=False) as f:
            for part in ("train", "test"):
                _check_arrays(f"its {part} split", f[f"x_{part}"], f[f"y_{part}"], (28, 28))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise StudioError(f"this file is not a readable mnist.npz ({exc})") from None


def cifar_batches(path: Path, members: set[str], batch_bytes: int) -> dict[str, bytes]:
    """The CIFAR-10 batch `members` of a `cifar-10-python.tar.gz`, each checked; sizes from the headers first."""
    found = read_tar_members(path, members, batch_bytes, 8 * batch_bytes, label="cifar-10-python.tar.gz")
    batches = {Path(name).name: data for name, data in found.items()}
    missing = sorted({Path(m).name for m in members} - set(batches))
    if missing:
        raise StudioError(f"this archive is not CIFAR-10 (python version): it lacks {', '.join(missing)}")
    for name, data in batches.items():
        try:
            batch = NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
            x = np.asarray(batch[b"data"])
            y = np.asarray(batch[b"labels"], np.int64)
        except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
            raise StudioError(f"{name} in this archive is not a CIFAR-10 batch ({exc})") from None
        _check_arrays(name, x, y, (3072,))
    return batches
