"""A corpus of hostile and odd inputs, made by the tests and by `bench hostile`: dataset zips, uploads
for Predict, model files, run zips and run names, and files that declare more than they hold (npz
headers, tar members, zips of zeros, a .keras config). Each is small on disk, whatever it declares."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import digit_like, folder_members, png_bytes

MB = 2**20


def _img(mode: str, size=(16, 16)) -> bytes:
    base = Image.fromarray(digit_like(1, size[0]))
    buf = io.BytesIO()
    if mode == "I;16":
        Image.fromarray(np.asarray(base, np.uint16) * 257).save(buf, format="PNG")
    elif mode == "CMYK":
        base.convert("CMYK").save(buf, format="JPEG")
    elif mode == "LAB":
        base.convert("RGB").convert("LAB").save(buf, format="TIFF")
    else:
        base.convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes], raw_names: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name) if raw_names else name, data)
    return path


def _add_zeros(path: Path, name: str, size: int) -> Path:
    """Add to the zip at `path` a member `name` of `size` zero bytes, written a megabyte at a time (nothing that size in memory)."""
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w", force_zip64=True) as member:
        for start in range(0, size, MB):
            member.write(bytes(min(MB, size - start)))
    return path


def dataset_zips(folder: Path) -> dict[str, tuple[Path, str]]:
    """name → (zip path, "ok" if it should load with a report, or the words its refusal says)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder_members({"a": 6, "b": 6})
    jpeg = png_bytes(digit_like(2), fmt="JPEG")
    modes = {
        f"m/{c}/{i}-{mode.replace(';', '')}.png": _img(mode)
        for c in ("x", "y")
        for i, mode in enumerate(["RGBA", "P", "CMYK", "I;16", "L", "LA", "1", "RGB"])
    }
    with_bad = good | {
        "a/empty.png": b"",
        "a/text.png": b"just text",
        "b/cut.png": png_bytes(digit_like(1, 64))[:200],
        "b/photo.png": jpeg,
    }
    deep = {
        f"d/{c}/" + "/".join(["deeper"] * 12) + f"/{i}.png": png_bytes(digit_like(k, seed=i))
        for k, c in enumerate("pq")
        for i in range(5)
    }
    corpus = {
        "path-escapes": (
            _zip(folder / "escape.zip", good | {"../../evil.png": b"x", "/abs/evil.png": b"x"}, raw_names=True),
            "ok",
        ),
        # 128 MB of zeros in a 128 KB member: more than a case's memory budget and margin, were it unpacked
        "bomb": (_add_zeros(_zip(folder / "bomb.zip", good), "a/bomb.png", 128 * MB), "ok"),
        "bad-files": (_zip(folder / "bad.zip", with_bad), "ok"),
        "image-modes": (_zip(folder / "modes.zip", modes), "ok"),
        "single-class": (_zip(folder / "single.zip", folder_members({"only": 8})), "at least 2 class"),
        "empty": (_zip(folder / "empty.zip", {}), "no readable images"),
        "random-bytes": (folder / "random.zip", "not a readable zip"),
        "deep-nesting": (_zip(folder / "deep.zip", deep), "ok"),
        "unicode-classes": (_zip(folder / "unicode.zip", folder_members({"猫": 5, "狗": 5, "épée": 5}, prefix="宠物/")), "ok"),
        "too-few-per-class": (_zip(folder / "few.zip", folder_members({"a": 6, "b": 2})), "too few to split"),
    }
    (folder / "random.zip").write_bytes(os.urandom(5000))
    return corpus


def huge_png(path: Path, side: int = 8000) -> Path:
    """A grayscale PNG of side×side black pixels, written row by row: 64 MB decoded at 8000, 62 KB on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), bytes(side + 1)  # a row: its filter byte, then the pixels
    pixels = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def predict_uploads(folder: Path) -> dict[str, tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    (folder / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>')
    files["svg"] = (folder / "drawing.svg", "not an image file")
    frames = [Image.new("L", (64, 64), v) for v in (255, 0, 128)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    files["animated-gif"] = (folder / "anim.gif", "ok")
    Image.new("RGB", (8000, 8000), "white").save(folder / "huge.jpg", quality=50)
    files["8000x8000-jpeg"] = (folder / "huge.jpg", "ok")
    files["8000x8000-png"] = (huge_png(folder / "huge.png"), "image too large (8000x8000 pixels; the limit is 50 megapixels)")
    (folder / "cmyk.jpg").write_bytes(_img("CMYK", (64, 64)))
    files["cmyk-jpeg"] = (folder / "cmyk.jpg", "ok")
    (folder / "random.png").write_bytes(os.urandom(4096))
    files["random-bytes"] = (folder / "random.png", "not an image file")
    return files


def lab_tiff(path: Path) -> Path:
    """A TIFF in Pillow's LAB mode, which Pillow cannot convert to RGB (not in `predict_uploads`: refused
    with a traceback today, see tests/test_hostile.py)."""
    path.write_bytes(_img("LAB", (64, 64)))
    return path


def model_files(folder: Path, good_model: Path) -> dict[str, tuple[Path, str]]:
    """Model files for import into a 16x16x3, 5-class dataset (shapes at size 16)."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    lam = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Lambda(lambda x: x * 2.0),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    lam.save(folder / "lambda.keras")
    wrong = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")])
    wrong.save(folder / "wrong-shape.keras")
    (folder / "garbage.keras").write_bytes(os.urandom(3000))
    (folder / "text.h5").write_text("definitely not HDF5")
    return {
        "lambda": (folder / "lambda.keras", "Lambda"),
        "wrong-shape": (folder / "wrong-shape.keras", "expects images of shape"),
        "garbage": (folder / "garbage.keras", "not a Keras model"),
        "text-h5": (folder / "text.h5", "not an HDF5"),
        "good": (good_model, "ok"),
    }


def keras_zip(path: Path, config_spaces: int = 0, weights: int = 0) -> Path:
    """A .keras-shaped zip: config.json is `{`, `config_spaces` spaces (written a megabyte at a time) and
    `}`; with `weights`, a model.weights.h5 of that many zero bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("config.json", "w", force_zip64=True) as member:
            member.write(b"{")
            for start in range(0, config_spaces, MB):
                member.write(b" " * min(MB, config_spaces - start))
            member.write(b"}")
        archive.writestr("metadata.json", b"{}")
    return _add_zeros(path, "model.weights.h5", weights) if weights else path


def huge_mnist_npz(path: Path, images: int, honest: bool = True) -> Path:
    """An mnist.npz whose x_train declares `images` images: zeros that pack to almost nothing (2.3 MB
    for 3,000,000), or (not honest) the header alone, with no pixels behind it."""
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


def huge_member_tar(path: Path, size: int = 2**30) -> Path:
    """A CIFAR-named tar.gz whose first member declares `size` bytes; only its header is there."""
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = size
    with gzip.open(path, "wb") as f:
        f.write(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))
    return path


def zero_members_zip(path: Path, members: int = 3000, size: int = 64 * 2**10) -> Path:
    """A zip of `members` zero-filled files of `size` bytes: each well under the bomb ratio's member size."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(members):
            archive.writestr(f"a/{i}.bmp", bytes(size))
    return path


# A run name that closed the exported script's docstring and ran code at import (issue 24).
HOSTILE_RUN_NAME = 'x"""\nimport os; os.system("touch PWNED")\n"""'


def run_zips(folder: Path, good_run: Path) -> dict[str, tuple[Path, str]]:
    """Run zips made from a real run folder: name → (zip path, "ok" if it imports, or the words of
    its one-line refusal)."""
    from cnn_core.runs.schema import CONFIG_MAX_BYTES

    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads((good_run / "config.json").read_text())
    files = {f"run/{f}": (good_run / f).read_bytes() for f in ("status.json", "history.csv", "metrics.json")}

    def zipped(name: str, changes: dict | None = None, raw: bytes | None = None, extra: dict | None = None) -> Path:
        content = raw if raw is not None else json.dumps({**config, **(changes or {})}).encode()
        return _zip(folder / f"{name}.zip", {**files, "run/config.json": content, **(extra or {})}, raw_names=True)

    train = config["train"]
    return {
        "escaping-run-id": (zipped("escape", {"run_id": "../../x"}), "ok"),
        "escaping-member": (zipped("member", extra={"../../evil.txt": b"x", "/abs/evil.txt": b"x"}), "ok"),
        "hostile-name": (zipped("name", {"name": HOSTILE_RUN_NAME, "note": HOSTILE_RUN_NAME}), "ok"),
        "dataset-is-a-number": (zipped("dataset", {"dataset": 1}), "config.json: dataset must be an object (got 1)"),
        "epochs-as-text": (zipped("epochs", {"train": {**train, "epochs": "5"}}), "train.epochs must be a whole number"),
        "code-as-a-rate": (
            zipped("rate", {"train": {**train, "learning_rate": "1e-3\nimport os"}}),
            "train.learning_rate must be a number",
        ),
        "unknown-architecture": (zipped("arch", {"architecture": {"preset": "evil"}}), "architecture.preset must be one of"),
        "huge-config": (zipped("huge", raw=b" " * (CONFIG_MAX_BYTES + 1)), f"the limit is {CONFIG_MAX_BYTES:,}"),
        "config-is-a-list": (zipped("list", raw=b"[1, 2]"), "config.json is damaged (not a JSON object)"),
    }
