"""Predictions on the test split, the confusion matrix and per-class metrics of a trained model."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_core.data.datasets import Dataset, load_dataset
from cnn_core.data.ingest import ImageFiles
from cnn_core.errors import StudioError
from cnn_core.progress import Progress, Report
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import DataConfig
from cnn_core.training.saved import load_run_model

EPSILON = 1e-7  # Keras clips probabilities by this in cross-entropy


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def per_class_metrics(cm: np.ndarray, class_names: list[str]) -> list[dict]:
    """Precision, recall, F1 and support per class (0 where a ratio has no denominator)."""
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    return [
        {"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(class_names, precision, recall, f1, actual)
    ]


@dataclass
class Evaluation:
    """A model's class probabilities on a test split, with the metrics derived from them."""

    class_names: list[str]
    y_true: np.ndarray
    probabilities: np.ndarray

    @property
    def y_pred(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)

    @property
    def accuracy(self) -> float:
        return float((self.y_pred == self.y_true).mean()) if len(self.y_true) else 0.0

    @property
    def loss(self) -> float:
        p = np.clip(self.probabilities[np.arange(len(self.y_true)), self.y_true], EPSILON, 1 - EPSILON)
        return float(-np.log(p).mean()) if len(p) else 0.0

    def confusion_matrix(self) -> np.ndarray:
        return confusion_matrix(self.y_true, self.y_pred, len(self.class_names))

    def per_class(self) -> list[dict]:
        return per_class_metrics(self.confusion_matrix(), self.class_names)

    def most_confused(self, top: int = 5) -> list[dict]:
        cm = self.confusion_matrix()
        np.fill_diagonal(cm, 0)
        pairs = sorted(((int(cm[i, j]), i, j) for i in range(len(cm)) for j in range(len(cm)) if cm[i, j]), reverse=True)
        return [{"true": self.class_names[i], "predicted": self.class_names[j], "count": n} for n, i, j in pairs[:top]]

    def misclassified(self, true_class: int | None = None) -> np.ndarray:
        """Indices of wrong predictions, most confident first (the most instructive mistakes)."""
        wrong = self.y_pred != self.y_true
        if true_class is not None:
            wrong &= self.y_true == true_class
        idx = np.flatnonzero(wrong)
        return idx[np.argsort(-self.confidence[idx], kind="stable")]

    def to_csv(self) -> str:
        """One row per test image: true and predicted class, confidence and every class's probability."""
        out = io.StringIO()
        out.write("index,true,predicted,confidence,correct," + ",".join(f"p_{n}" for n in self.class_names) + "\n")
        for i, (t, p, probs) in enumerate(zip(self.y_true, self.y_pred, self.probabilities)):
            out.write(
                f"{i},{self.class_names[t]},{self.class_names[p]},{probs[p]:.6f},{int(t == p)},"
                + ",".join(f"{v:.6f}" for v in probs)
                + "\n"
            )
        return out.getvalue()

    def summary(self) -> dict:
        """Loss, accuracy, confusion matrix, per-class metrics and the most confused pairs, as plain data."""
        return {
            "test_loss": self.loss,
            "test_accuracy": self.accuracy,
            "class_names": self.class_names,
            "confusion_matrix": self.confusion_matrix().tolist(),
            "per_class": self.per_class(),
            "most_confused": self.most_confused(),
        }


@dataclass
class EpochComparison:
    """What changed between two models (two epochs of a run) on the same test images."""

    class_names: list[str]
    recall_a: np.ndarray
    recall_b: np.ndarray
    became_right: np.ndarray  # test indices wrong at A and right at B
    became_wrong: np.ndarray

    def per_class(self) -> list[dict]:
        return [
            {"class": n, "accuracy A": float(a), "accuracy B": float(b), "change": float(b - a)}
            for n, a, b in zip(self.class_names, self.recall_a, self.recall_b)
        ]


def compare_epochs(a: Evaluation, b: Evaluation) -> EpochComparison:
    """Per-class accuracy at A and at B, and the test images that became right or wrong."""
    if not np.array_equal(a.y_true, b.y_true):
        raise StudioError("the two evaluations are not of the same test images")
    right_a, right_b = a.y_pred == a.y_true, b.y_pred == b.y_true

    def recall(result):
        return np.array([m["recall"] for m in result.per_class()])

    return EpochComparison(
        a.class_names, recall(a), recall(b), np.flatnonzero(~right_a & right_b), np.flatnonzero(right_a & ~right_b)
    )


def predict_split(
    model, images, batch_size: int = 256, progress: Report | None = None, counter: Progress | None = None
) -> np.ndarray:
    """Class probabilities for `uint8` images, batch by batch (works for lazy folders too). `progress`
    hears the count; or `counter`, a running count over several calls, is advanced."""
    outputs = []
    counter = counter or Progress(len(images), "test images predicted", progress)
    for start in range(0, len(images), batch_size):
        stop = min(start + batch_size, len(images))
        batch = images[np.arange(start, stop)] if isinstance(images, ImageFiles) else images[start:stop]
        outputs.append(np.asarray(model(batch, training=False)))
        counter.advance(stop - start)
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def evaluate_model(model, dataset: Dataset, progress: Report | None = None) -> Evaluation:
    """Predict the dataset's test split."""
    return Evaluation(dataset.class_names, dataset.test.labels, predict_split(model, dataset.test.images, progress=progress))


def load_run(run: str | Path, store: RunStore | None = None, epoch: int | None = None):
    """(model, dataset, config) of a saved run; the dataset is rebuilt from the run's data config.

    See `load_run_model` for `epoch`.
    """
    model, config = load_run_model(run, store, epoch)
    return model, load_dataset(DataConfig.from_dict(config.get("data", {}))), config
