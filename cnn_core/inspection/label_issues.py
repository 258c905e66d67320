"""Label issues by confident learning: training images whose given label the data itself doubts.

Each training image is predicted by a model that never saw it (k-fold out-of-fold probabilities,
see folds.py); cleanlab's `find_label_issues` then estimates, per pair of classes, how many
labels are wrong, and picks the images most likely to be those. Unlike the loss ranking of the
run's own model (hardest.py), a memorised wrong label cannot hide here. Northcutt, Jiang and
Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from cnn_core.data.datasets import Dataset
from cnn_core.errors import StudioError
from cnn_core.inspection.folds import Cancelled, FoldProgress, out_of_fold
from cnn_core.settings.config import ArchChoice, TrainConfig

__all__ = ["Cancelled", "FoldProgress", "Search", "find", "issues_from"]


def issues_from(dataset: Dataset, probabilities: np.ndarray, top: int | None = None) -> list[dict]:
    """The label issues among the training split given out-of-fold `probabilities`, lowest
    self-confidence (the model's belief in the given label) first."""
    from cleanlab.filter import find_label_issues

    labels = np.asarray(dataset.train.labels, np.int64)
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1):
        raise StudioError(f"top must be a whole number of at least 1, not {top!r}")
    if len(np.unique(labels)) < 2:
        raise StudioError("confident learning needs at least 2 classes in the training split")
    ranked = find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence", n_jobs=1)
    ranked = ranked[:top] if top else ranked
    keys = _keys(dataset)
    names = dataset.class_names
    rows = []
    for i in ranked:
        key = keys[i] if keys is not None else None
        is_file = isinstance(key, str)
        rows.append(
            {
                "index": None if key is None or is_file else int(key),
                "file": str(key) if is_file else None,
                "given": names[int(labels[i])],
                "suggested": names[int(probabilities[i].argmax())],
                "score": float(probabilities[i, labels[i]]),
                "position": int(i),  # within the training split, for the pages' thumbnails
            }
        )
    return rows


def _keys(dataset: Dataset):
    """Each training image's key (a file path under the dataset root, or its index in the loader's order)."""
    keys = getattr(dataset.train, "keys", None)
    if keys is not None:
        return [k.item() if isinstance(k, np.generic) else k for k in keys]
    return list(dataset.train.files) if dataset.train.files is not None else None


def find(
    dataset: Dataset,
    arch: ArchChoice,
    train_config: TrainConfig,
    folds: int = 5,
    epochs: int | None = None,
    top: int | None = None,
    progress=None,
    cancelled=None,
    owner: str = "",
) -> list[dict]:
    """Rows {"index", "file", "given", "suggested", "score"} (plus "position" in the training split),
    ranked by cleanlab's self-confidence, lowest first, over the training split.

    Args:
        folds: k of the k-fold cross-validation (2 to 20); k models train.
        epochs: each fold model's epochs (default: the settings' epochs).
        top: at most this many rows.
        progress: told where the fold trainings are (a `FoldProgress`).
        cancelled: polled while training; when it says True, `Cancelled` is raised.
    """
    probabilities = out_of_fold(dataset, arch, train_config, folds, epochs, progress, cancelled, owner)
    return issues_from(dataset, probabilities, top)


@dataclass
class Search:
    """`find` in a background thread, for a page that must stay responsive: progress, cancel, outcome."""

    dataset: Dataset
    arch: ArchChoice
    config: TrainConfig
    folds: int = 5
    epochs: int | None = None
    owner: str = ""
    state: str = "running"  # running | done | cancelled | failed
    rows: list[dict] = field(default_factory=list)
    message: str = ""
    where: FoldProgress | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    def __post_init__(self):
        self._cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="label-issues")

    def start(self) -> Search:
        from cnn_core.training.build import prepare_tensorflow

        prepare_tensorflow()  # in the caller's thread: first imports in a worker thread can fail half-done
        self.thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def active(self) -> bool:
        return self.state == "running"

    def _run(self) -> None:
        try:
            self.rows = find(
                self.dataset, self.arch, self.config, self.folds, self.epochs,
                progress=self._heard, cancelled=self._cancel.is_set, owner=self.owner,
            )  # fmt: skip
            self.state = "done"
        except Cancelled as exc:
            self.state, self.message = "cancelled", str(exc)
        except StudioError as exc:
            self.state, self.message = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - the page shows one line, not a traceback
            self.state, self.message = "failed", f"unexpected {type(exc).__name__}: {exc}"
        self.seconds = time.monotonic() - self.started

    def _heard(self, where: FoldProgress) -> None:
        self.where = where
