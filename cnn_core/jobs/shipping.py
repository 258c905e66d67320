"""What travels between the server and a Ray worker: a run's files out and back (only what
changed, written back in an order that never shows a half checkpoint), and the data: by its
configuration when the worker can load it itself, else as decoded images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnn_core.errors import StudioError

SKIPPED = ("config.json", "batches.csv")  # the server keeps its own (see jobs.remote.RemoteJob)


def run_files(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run folder (its checkpoints and logs too), by path inside it; hidden temporaries left out."""
    return {rel: (run_dir / rel).read_bytes() for rel in signatures(run_dir)}


def signatures(run_dir: Path) -> dict[str, list[int]]:
    """Each file's (size, modification time in ns), to tell what changed since the last look."""
    found = {}
    for path in sorted(Path(run_dir).rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or not path.is_file():
            continue
        try:
            stat = path.stat()
        except OSError:  # replaced or removed while we looked: the next look sees it
            continue
        found[rel] = [stat.st_size, stat.st_mtime_ns]
    return found


def write_order(rel: str) -> tuple[int, str]:
    """Files are written back so that a reader never sees a half checkpoint or an early "completed":
    checkpoint arrays before their JSON, and the status last of all."""
    if rel == "status.json":
        return (4, rel)
    if rel == "metrics.json":
        return (3, rel)
    if rel.startswith("checkpoints/"):
        return (1 if rel.endswith(".json") else 0, rel)
    return (2, rel)


def changes(run_dir: Path, known: dict[str, list[int]]) -> tuple[list[tuple[str, bytes]], list[str], dict[str, list[int]]]:
    """Files new or changed since `known` (in write order), files deleted since (old checkpoints), and
    the signatures they were listed with (a file that changes while being read is sent again next time)."""
    now = signatures(run_dir)
    files = []
    for rel in sorted(now, key=write_order):
        if rel in SKIPPED or known.get(rel) == now[rel]:
            continue
        try:
            files.append((rel, (Path(run_dir) / rel).read_bytes()))
        except OSError:
            continue
    return files, [rel for rel in known if rel not in now], now


def inside(run_dir: Path, rel: str) -> Path:
    """The path of `rel` in `run_dir`; `StudioError` for anything that would leave it."""
    target = (Path(run_dir) / rel).resolve()
    root = Path(run_dir).resolve()
    if rel.startswith(("/", "\\")) or ".." in Path(rel).parts or root not in target.parents:
        raise StudioError(f"a worker sent a file outside its run folder ({rel!r}); it was refused")
    return target


def place_files(run_dir: Path, files: list[tuple[str, bytes]] | dict[str, bytes]) -> None:
    """Write files into a run folder, each atomically, refusing any path that leaves it."""
    from cnn_core.runs.store import atomic_write

    for rel, data in files.items() if isinstance(files, dict) else files:
        target = inside(run_dir, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)


def in_memory(dataset):
    """The dataset with every split's images decoded into arrays (a large folder is read from disk
    on access; a worker on another machine cannot read this one's disk)."""
    from dataclasses import replace

    from cnn_core.data.datasets import Split

    def load(split: Split) -> Split:
        images = split.images if isinstance(split.images, np.ndarray) else split.images[np.arange(len(split))]
        return Split(np.asarray(images, np.uint8), split.labels, split.files, split.keys)

    return replace(dataset, train=load(dataset.train), validation=load(dataset.validation), test=load(dataset.test))


def ships_by_config(dataset) -> bool:
    """Bundled, generated and Keras datasets load on the worker; folders, zips and versions travel as
    images (a version's edit list lives in this machine's data folder)."""
    return dataset.spec.kind in ("bundled", "generated", "download") and "@v-" not in dataset.spec.id
