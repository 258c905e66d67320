"""Hardest examples: every image of a split ranked by its loss under the model, the first step in
finding mislabelled or confusing data; and the other end, the most confident correct images.

The loss of one image is the cross-entropy of its given label, -log p(label), as Keras computes it
for training (probabilities clipped to [1e-7, 1 - 1e-7]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnn_core.data.datasets import Dataset
from cnn_core.errors import StudioError
from cnn_core.inspection.evaluation import predict_split
from cnn_core.progress import Progress, Report

EPSILON = 1e-7  # Keras' clipping of probabilities in its cross-entropy
SPLITS = ("train", "validation", "test")


@dataclass
class Ranked:
    """The images of one or more splits with the model's beliefs, hardest first."""

    class_names: list[str]
    split: np.ndarray  # each image's split name
    index: np.ndarray  # its index within that split
    labels: np.ndarray
    probabilities: np.ndarray
    files: np.ndarray | None  # paths under the dataset root, for folders and zips

    @property
    def loss(self) -> np.ndarray:
        given = self.probabilities[np.arange(len(self.labels)), self.labels]
        return -np.log(np.clip(given, EPSILON, 1 - EPSILON))

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(1)

    def order(self, true_class: int | None = None) -> np.ndarray:
        """Positions, hardest (highest loss) first; only images labelled `true_class` when given."""
        keep = np.arange(len(self.labels)) if true_class is None else np.flatnonzero(self.labels == true_class)
        return keep[np.argsort(-self.loss[keep], kind="stable")]

    def most_confident_correct(self, per_class: int = 5) -> dict[str, np.ndarray]:
        """Per class: positions of the correct images the model is surest of."""
        right = self.predicted == self.labels
        confidence = self.probabilities.max(1)
        found = {}
        for k, name in enumerate(self.class_names):
            mine = np.flatnonzero(right & (self.labels == k))
            found[name] = mine[np.argsort(-confidence[mine], kind="stable")][:per_class]
        return found

    def entry(self, i: int) -> dict:
        """One image as the CLI and the download list it."""
        p = self.probabilities[i]
        entry = {
            "split": str(self.split[i]),
            "index": int(self.index[i]),
            "label": self.class_names[self.labels[i]],
            "predicted": self.class_names[int(p.argmax())],
            "belief_in_label": float(p[self.labels[i]]),
            "confidence": float(p.max()),
            "loss": float(self.loss[i]),
        }
        if self.files is not None:
            entry["file"] = str(self.files[i])
        return entry

    def table(self, positions: np.ndarray) -> list[dict]:
        return [self.entry(int(i)) for i in positions]


def rank(model, dataset: Dataset, splits: tuple[str, ...] = ("train",), progress: Report | None = None) -> Ranked:
    """Predict the chosen splits and rank their images by loss."""
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise StudioError(f"unknown split {unknown or splits}; choose from {', '.join(SPLITS)}")
    chosen = [(name, dataset.splits[name]) for name in splits if len(dataset.splits[name])]
    if not chosen:
        raise StudioError(f"the {' and '.join(splits)} split{'s are' if len(splits) > 1 else ' is'} empty")
    counter = Progress(sum(len(s) for _, s in chosen), "images scored", progress)
    probabilities = [predict_split(model, split.images, counter=counter) for _, split in chosen]
    files = [s.files for _, s in chosen]
    return Ranked(
        dataset.class_names,
        np.concatenate([np.full(len(s), name) for name, s in chosen]),
        np.concatenate([np.arange(len(s)) for _, s in chosen]),
        np.concatenate([s.labels for _, s in chosen]),
        np.concatenate(probabilities),
        np.concatenate(files) if all(f is not None for f in files) else None,
    )
