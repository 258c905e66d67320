"""Confusion matrix and per-class metrics against scikit-learn on the same predictions."""

import csv
import io

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from cnn_core.inspection.evaluation import Evaluation, confusion_matrix, per_class_metrics


@pytest.fixture
def evaluation():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 300)
    probs = rng.dirichlet(np.ones(4), 300)
    probs[np.arange(150), y_true[:150]] += 2  # half of them clearly right
    return Evaluation(["a", "b", "c", "d"], y_true, probs / probs.sum(axis=1, keepdims=True))


def test_confusion_matrix_matches_scikit_learn(evaluation):
    np.testing.assert_array_equal(
        evaluation.confusion_matrix(), sk_confusion(evaluation.y_true, evaluation.y_pred, labels=range(4))
    )


def test_per_class_metrics_match_scikit_learn(evaluation):
    p, r, f, s = precision_recall_fscore_support(evaluation.y_true, evaluation.y_pred, labels=range(4), zero_division=0)
    ours = evaluation.per_class()
    np.testing.assert_allclose([m["precision"] for m in ours], p)
    np.testing.assert_allclose([m["recall"] for m in ours], r)
    np.testing.assert_allclose([m["f1"] for m in ours], f)
    assert [m["support"] for m in ours] == s.tolist()


def test_a_class_never_predicted_has_zero_precision_not_an_error():
    cm = confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 0]), 3)
    metrics = per_class_metrics(cm, ["x", "y", "z"])
    assert metrics[1] == {"class": "y", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics[2]["support"] == 0


def test_mistakes_most_confident_first_and_most_confused_pairs(evaluation):
    wrong = evaluation.misclassified()
    assert (evaluation.y_pred[wrong] != evaluation.y_true[wrong]).all()
    assert np.all(np.diff(evaluation.confidence[wrong]) <= 0)
    only_b = evaluation.misclassified(1)
    assert set(evaluation.y_true[only_b]) == {1}
    top = evaluation.most_confused(3)
    cm = evaluation.confusion_matrix()
    np.fill_diagonal(cm, 0)
    assert top[0]["count"] == cm.max()


def test_loss_is_keras_cross_entropy_and_csv_round_trips(evaluation):
    p = evaluation.probabilities[np.arange(300), evaluation.y_true]
    assert evaluation.loss == pytest.approx(-np.log(np.clip(p, 1e-7, 1 - 1e-7)).mean())
    rows = list(csv.DictReader(io.StringIO(evaluation.to_csv())))
    assert len(rows) == 300 and rows[0]["true"] == "abcd"[evaluation.y_true[0]]
    assert sum(int(r["correct"]) for r in rows) == round(evaluation.accuracy * 300)
