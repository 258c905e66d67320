"""`python -m bench hostile`: each hostile input of issue 24, refused in a fresh process.

For every case the hostile file is made first; then a child process (its own workspace, a 1,500 MB
memory budget) imports the app, takes its peak RSS (getrusage ru_maxrss), hands the input to the
app and records the refusal, the time it took, the peak RSS it added and the bytes written in the
app's folders (data, Keras cache, runs).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from bench.common import save, table

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 1500


def huge_mnist_npz(path: Path, images: int, honest: bool = True) -> Path:
    """An mnist.npz whose x_train declares `images` images: zeros that pack to almost nothing (2.3 MB
    for 3,000,000), or (not honest) the header alone, with no pixels behind it."""
    import numpy as np
    from numpy.lib import format as npy

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x_train.npy", "w", force_zip64=True) as member:
            npy.write_array_header_1_0(member, {"descr": "|u1", "fortran_order": False, "shape": (images, 28, 28)})
            zeros = bytes(28 * 28 * 10_000)
            for _ in range(images // 10_000 if honest else 0):
                member.write(zeros)
        for name, array in [("y_train", np.zeros(images, np.uint8)), ("x_test", np.zeros((10, 28, 28), np.uint8))]:
            with archive.open(f"{name}.npy", "w") as member:
                npy.write_array(member, array)
        with archive.open("y_test.npy", "w") as member:
            npy.write_array(member, np.zeros(10, np.uint8))
    return path


def _npz(path: Path, images: int) -> list[str]:
    return [str(huge_mnist_npz(path, images))]


def _tar(path: Path) -> list[str]:
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = 2**40
    with gzip.open(path, "wb") as f:
        f.write(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))
    return [str(path)]


def _zeros_zip(path: Path) -> list[str]:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(20_000):
            archive.writestr(f"a/{i}.bmp", bytes(64 * 2**10))
    return [str(path)]


def _keras(path: Path) -> list[str]:
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("config.json", "w", force_zip64=True) as member,
    ):
        member.write(b"{")
        for _ in range(1000):
            member.write(b" " * 2**20)
        member.write(b"}")
    return [str(path)]


def _mnist_for_cifar(path: Path) -> list[str]:
    import numpy as np

    np.savez(path, x_train=np.zeros((30, 28, 28), np.uint8), y_train=np.zeros(30, np.uint8),
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.zeros(10, np.uint8))  # fmt: skip
    return [str(path)]


# name: (what it is, how the file is made (None: a link), the call the child makes)
CASES = {
    "link-shapes": (
        "?data=shapes&limit=1000000&size=512",
        None,
        "load_dataset(DataConfig('shapes', limit=1_000_000, image_size=512))",
    ),
    "link-fashion": ("?data=fashion-mnist&size=512", None, "load_dataset(DataConfig('fashion-mnist', image_size=512))"),
    "npz-3M": ("mnist.npz declaring 3,000,000 images", (_npz, "m.npz", 3_000_000), "downloads.place_file(ARG, slot='mnist')"),
    "tar-1TB": ("CIFAR tar.gz, a member declaring 1 TB", (_tar, "c.tar.gz"), "downloads.place_file(ARG, slot='cifar10')"),
    "zip-zeros": (
        "zip of 20,000 zero members of 64 KB",
        (_zeros_zip, "z.zip"),
        "ingest.extract_upload(ARG, paths.data_dir() / 'uploads')",
    ),
    "keras-config": (".keras with a 1 GB config.json", (_keras, "m.keras"), "modelio.check_model_file(ARG)"),
    "wrong-slot": ("mnist.npz offered for CIFAR-10", (_mnist_for_cifar, "m.npz"), "downloads.place_file(ARG, slot='cifar10')"),
}

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
from cnn_core import paths
from cnn_core.data import downloads, ingest
from cnn_core.model import modelio
from cnn_core.settings.config import DataConfig
from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError

def written():
    folders = [paths.data_dir(), paths.keras_cache_dir(), paths.runs_dir()]
    return sum(f.stat().st_size for d in folders if d.exists() for f in d.rglob("*") if f.is_file())

ARG = sys.argv[2] if len(sys.argv) > 2 else None
base, disk = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, written()
start = time.perf_counter()
try:
    eval(sys.argv[1])
    message = "NOT REFUSED"
except StudioError as exc:
    message = str(exc)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"message": message, "seconds": seconds, "added_mb": (peak - base) / 1024, "rss_mb": peak / 1024,
                  "written": written() - disk}))
"""


def _measure(call: str, args: list[str], workspace: Path) -> dict:
    env = {
        **os.environ,
        "CNN_STUDIO_MEMORY_BUDGET_MB": str(BUDGET_MB),
        "CNN_STUDIO_DATA_DIR": str(workspace / "data"),
        "CNN_STUDIO_RUNS_DIR": str(workspace / "runs"),
        "KERAS_HOME": str(workspace / "keras"),
        "CNN_STUDIO_SYSTEM_DATASETS": str(workspace / "system"),
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, call, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> None:
    rows, figures = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        for name, (what, make, call) in CASES.items():
            workspace = Path(tmp) / name
            workspace.mkdir()
            args = make[0](workspace / make[1], *make[2:]) if make else []
            size = Path(args[0]).stat().st_size if args else 0
            result = _measure(call, args, workspace) | {"input_bytes": size}
            figures[name] = result
            rows.append(
                (
                    name,
                    f"{result['added_mb']:7.1f} MB  {result['seconds'] * 1000:7.0f} ms  {result['written']:>6} B  "
                    f"({what}; {result['message'][:90]})",
                )  # fmt: skip
            )
    table(f"Hostile inputs, each refused in a fresh process (budget {BUDGET_MB} MB): peak RSS added, time, bytes written", rows)
    save("hostile", {"budget_mb": BUDGET_MB, "cases": figures})
