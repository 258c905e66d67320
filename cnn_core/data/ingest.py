"""Image-folder and zip ingestion: one subfolder per class, safe against hostile archives.

A zip is extracted once into its own folder (`archives.extract_zip`: member by member, every size
checked before it is written); then the folder is scanned, unreadable files
are skipped and reported, and images are converted to one mode and size. A folder too large for
the memory budget is not loaded: its images stay on disk and are decoded on access (`ImageFiles`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from cnn_core.data import budget, filechecks
from cnn_core.data import images as imageio
from cnn_core.data.archives import IngestLimits, IngestReport, extract_zip, is_ignored, safe_relative
from cnn_core.data.images import ImageFiles
from cnn_core.data.loads import checkpoint
from cnn_core.errors import StudioError
from cnn_core.progress import Progress, Report

MAX_DEFAULT_SIDE = 128
DECODE_THREADS = max(2, min(8, os.cpu_count() or 2))
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def extract_upload(zip_path: str | Path, workspace: str | Path, limits: IngestLimits | None = None) -> tuple[Path, IngestReport]:
    """Extract a zip once into `workspace/<content hash>`, reusing a finished earlier extraction.

    A refused or failed extraction leaves nothing behind; a reused one is touched, so the
    retention sweep (`storage.sweep`) sees it as recently used.
    """
    dest = Path(workspace) / filechecks.file_digest(zip_path)[:16]
    marker = dest / ".extraction.json"  # hidden, so the scan ignores it
    if marker.exists():
        marker.touch()
        saved = json.loads(marker.read_text())
        return dest, IngestReport(root=str(dest), skipped=[tuple(s) for s in saved["skipped"]], ignored=saved["ignored"])
    shutil.rmtree(dest, ignore_errors=True)
    try:
        folder, report = extract_zip(zip_path, dest, limits)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    marker.write_text(json.dumps({"skipped": report.skipped, "ignored": report.ignored}))
    return folder, report


def save_folder_upload(files: list[tuple[str, bytes]], workspace: str | Path, limits: IngestLimits | None = None) -> Path:
    """Write a folder uploaded from the browser (each file's path relative to the chosen folder,
    e.g. `pets/cats/001.jpg`) to `workspace/<content hash>/`, once; unsafe paths are not written.

    A `.complete` marker says the folder was written in full, so an interrupted save is redone.
    """
    limits = limits or IngestLimits()
    if len(files) > limits.max_members:
        raise StudioError(f"the folder has {len(files):,} files; the limit is {limits.max_members:,}")
    total = sum(len(data) for _, data in files)
    if total > limits.max_total_bytes:
        raise StudioError(f"the folder holds {total / 2**30:.1f} GB; the limit is {limits.max_total_bytes / 2**30:.1f} GB")
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    dest = Path(workspace) / ("folder-" + digest.hexdigest()[:16])
    marker = dest / ".complete"
    if marker.exists():
        marker.touch()  # used again: the retention sweep counts from now
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    for name, data in files:
        relative = safe_relative(name.replace("\\", "/"))
        if relative is None or not relative.parts:
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    dest.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return dest


def find_class_root(folder: Path) -> Path:
    """Descend through single wrapper folders (`archive/cats`, `archive/dogs` → `archive`).

    A lone subfolder that holds images itself is a class, not a wrapper: `one/only/*.png` is
    a one-class dataset (refused later with that reason), not a folder of loose files.
    """
    while True:
        dirs = [e for e in folder.iterdir() if e.is_dir() and not is_ignored(e.name)]
        if len(dirs) != 1 or _holds_images(dirs[0]) or not any(e.is_dir() for e in dirs[0].iterdir()):
            return folder
        folder = dirs[0]


def _holds_images(folder: Path) -> bool:
    return any(e.is_file() and e.suffix.lower() in IMAGE_SUFFIXES for e in folder.iterdir())


def _scan(root: Path, report: IngestReport) -> dict[str, list[Path]]:
    """Class name → image candidates, reporting files outside class folders."""
    classes: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if is_ignored(entry.name):
            report.ignored += 1
        elif entry.is_file():
            report.skip(entry.relative_to(root), "not inside a class folder")
        elif entry.is_dir():
            files = []
            for dirpath, dirnames, filenames in os.walk(entry):
                dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
                for fname in sorted(filenames):
                    if is_ignored(fname):
                        report.ignored += 1
                    else:
                        files.append(Path(dirpath) / fname)
            classes[entry.name] = files
    return classes


def _probe(files: dict[str, list[Path]], root: Path, report: IngestReport) -> list[tuple[int, Path, tuple[str, tuple[int, int]]]]:
    """Read headers only: keep readable images (label, path, header) and report the rest."""
    kept = []
    for label, paths in enumerate(files.values()):
        for path in paths:
            try:
                with Image.open(path) as img:
                    if img.format not in imageio.READABLE_FORMATS:
                        raise StudioError(f"{img.format} images are not supported")
                    kept.append((label, path, (img.mode, img.size)))
            except StudioError as exc:
                report.skip(path.relative_to(root), str(exc))
            except Exception:  # noqa: BLE001 - Pillow raises many types for non-images
                report.skip(path.relative_to(root), "not an image file Pillow can read")
    return kept


def default_format(headers: list[tuple[str, tuple[int, int]]]) -> tuple[int, tuple[int, int]]:
    """Channels (1 if every image is grayscale) and size (the most common, long side ≤ 128)."""
    channels = 1 if all(mode in imageio.GRAYSCALE_MODES for mode, _ in headers) else 3
    (width, height), _ = Counter(size for _, size in headers).most_common(1)[0]
    scale = min(1.0, MAX_DEFAULT_SIDE / max(width, height))
    return channels, (max(1, round(height * scale)), max(1, round(width * scale)))


def ingest_folder(
    folder: str | Path,
    *,
    channels: int | None = None,
    image_size: tuple[int, int] | None = None,
    limits: IngestLimits | None = None,
    report: IngestReport | None = None,
    progress: Report | None = None,
) -> tuple[np.ndarray | ImageFiles, np.ndarray, list[str], IngestReport]:
    """Load a folder of class subfolders: images (n, h, w, c) `uint8`, labels, class names, report.

    Images are decoded by a few threads at once (Pillow releases the GIL while it decodes and
    resizes); `progress` hears how many have been read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StudioError(f"{folder} is not a folder")
    root = find_class_root(folder)
    report = report or IngestReport(root=str(root))
    report.root = str(root)
    found = _scan(root, report)
    kept = _probe(found, root, report)
    if not kept:
        raise StudioError(f"no readable images in class subfolders of {folder}")
    default_channels, default_size = default_format([h for _, _, h in kept])
    report.channels = channels or default_channels
    report.image_size = tuple(image_size or default_size)
    images, labels = _decode(kept, root, report, limits or IngestLimits(), Progress(len(kept), "images read", progress))
    return _drop_empty_classes(images, labels, list(found), report)


def _decode(kept, root: Path, report: IngestReport, limits: IngestLimits, progress: Progress):
    """Decode every image once (to find truncated files); keep pixels unless over the budget."""
    h, w = report.image_size
    report.streamed = budget.COPIES * len(kept) * h * w * report.channels > limits.memory_budget_bytes
    pixels = None if report.streamed else np.zeros((len(kept), h, w, report.channels), np.uint8)
    good = np.zeros(len(kept), bool)

    def read(item):
        try:
            return imageio.load_array(item[1], (h, w), report.channels)
        except StudioError as exc:
            return exc

    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        for i, (item, array) in enumerate(zip(kept, pool.map(read, kept))):
            if i % 64 == 0:
                checkpoint()  # a cancelled shared load stops here; leaving `map` cancels the queued reads
            progress.advance()
            if isinstance(array, StudioError):
                report.skip(item[1].relative_to(root), str(array))
                continue
            good[i] = True
            if pixels is not None:
                pixels[i] = array
    labels = np.array([label for label, _, _ in kept], np.int64)[good]
    report.files = [str(path.relative_to(root)) for (_, path, _), ok in zip(kept, good) if ok]
    if pixels is not None:
        for j, i in enumerate(np.flatnonzero(good)):  # close the gaps in place: no second copy of the images
            if i != j:
                pixels[j] = pixels[i]
        return pixels[: len(labels)], labels
    return ImageFiles([p for (_, p, _), ok in zip(kept, good) if ok], (h, w), report.channels), labels


def _drop_empty_classes(images, labels, names: list[str], report: IngestReport):
    counts = np.bincount(labels, minlength=len(names))
    keep = [i for i, c in enumerate(counts) if c > 0]
    for i, c in enumerate(counts):
        if c == 0:
            report.skip(names[i] + "/", "class folder has no readable images: class dropped")
    remap = np.full(len(names), -1, np.int64)
    remap[keep] = np.arange(len(keep))
    report.class_names = [names[i] for i in keep]
    report.counts = [int(counts[i]) for i in keep]
    if len(keep) < 2:
        raise StudioError(
            f"found {len(keep)} class with readable images ({', '.join(report.class_names) or 'none'}); "
            "a dataset needs at least 2 class subfolders"
        )
    return images, remap[labels], report.class_names, report


def save_upload(data: bytes, filename: str, workspace: str | Path) -> Path:
    """Store an uploaded zip as `workspace/<content hash>/<its own name>` and return the path."""
    name = Path(filename.replace("\\", "/")).name.strip() or "upload.zip"
    if is_ignored(name):
        name = "upload" + name
    folder = Path(workspace) / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.exists():
        target.touch()  # uploaded again: the retention sweep counts from now
    else:
        tmp = folder / (".partial-" + name)
        tmp.write_bytes(data)
        tmp.replace(target)
    return target
