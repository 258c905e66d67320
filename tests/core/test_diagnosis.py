"""Diagnosis: each rule on synthetic histories, then on real short runs built to show each pattern."""

import json
import math

import pytest

from cnn_core.training.diagnosis import Context, diagnose

pytestmark = pytest.mark.xdist_group("diagnosed")  # shares a session fixture with other files (tests/conftest.py)

TEN = Context(num_classes=10, learning_rate=0.001, class_counts=[100] * 10)


def epochs(**columns):
    """History rows from columns of values: epochs(loss=[...], val_loss=[...])."""
    length = len(next(iter(columns.values())))
    return [{"epoch": i + 1, **{k: v[i] for k, v in columns.items()}} for i in range(length)]


def batches(losses, accuracy=0.5):
    return [{"epoch": 0, "step": i, "x": (i + 1) / 100, "loss": v, "accuracy": accuracy} for i, v in enumerate(losses)]


def kinds(findings):
    return [f.kind for f in findings]


HEALTHY = epochs(
    loss=[1.2, 0.6, 0.4, 0.3, 0.25], val_loss=[1.0, 0.55, 0.42, 0.35, 0.3],
    accuracy=[0.6, 0.8, 0.87, 0.9, 0.92], val_accuracy=[0.65, 0.82, 0.86, 0.89, 0.9],
)  # fmt: skip


def test_a_healthy_run_has_no_findings():
    assert diagnose(HEALTHY, batches([0.3] * 200, 0.9), TEN) == []


def test_overfitting_names_the_epochs_and_values_and_suggests_dropout():
    history = epochs(
        loss=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02], val_loss=[0.9, 0.6, 0.5, 0.55, 0.6, 0.7, 0.8],
        accuracy=[0.7, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0], val_accuracy=[0.7, 0.8, 0.84, 0.84, 0.83, 0.83, 0.82],
    )  # fmt: skip
    (finding,) = diagnose(history, batches([0.05] * 100, 1.0), TEN)
    assert finding.kind == "overfitting" and (finding.start, finding.end) == (3.0, 7.0)
    assert (
        "rose for 4 epochs, from 0.500 (epoch 3) to 0.800" in finding.evidence and "fell from 0.300 to 0.020" in finding.evidence
    )
    assert (finding.setting, finding.page, finding.value) == ("dropout", "model", 0.4)


def test_not_learning_at_ln_c_and_diverging_on_nan():
    flat = diagnose(epochs(loss=[2.3, 2.3]), batches([2.30] * 120, 0.1), Context(10, learning_rate=1e-6))
    assert kinds(flat) == ["not-learning"] and "ln(10) = 2.303" in flat[0].evidence and flat[0].value == 0.001
    nan = diagnose([], batches([2.0, 1.9, float("nan")]), TEN)
    assert kinds(nan) == ["diverging"] and nan[0].value == pytest.approx(0.0001) and nan[0].severity == "error"


def test_learning_rate_too_low_underfitting_and_plateau():
    slow = diagnose(epochs(loss=[2.3, 2.25, 2.2, 2.15], accuracy=[0.2, 0.3, 0.35, 0.4]), [], Context(10, learning_rate=1e-5))
    assert kinds(slow) == ["lr-too-low"] and "by 7% in 4 epochs" in slow[0].evidence
    under = epochs(
        loss=[1.6, 1.5, 1.45, 1.44, 1.44, 1.44], val_loss=[1.6, 1.55, 1.5, 1.5, 1.5, 1.5],
        accuracy=[0.3, 0.35, 0.38, 0.39, 0.39, 0.4], val_accuracy=[0.3, 0.33, 0.36, 0.37, 0.37, 0.37],
    )  # fmt: skip
    assert kinds(diagnose(under, [], Context(5))) == ["underfitting", "plateau"]


def test_imbalance_and_early_stopping_come_from_the_context():
    context = Context(3, class_counts=[300, 40, 100], class_names=["cat", "dog", "eel"], message="early stopping: kept epoch 4")
    found = diagnose(HEALTHY, [], context)
    assert kinds(found) == ["imbalance", "early-stopping"]
    assert "'cat' has 300 training images and 'dog' only 40 (7.5 times fewer)" in found[0].evidence


def test_every_finding_explains_itself_in_a_sentence():
    histories = [
        (epochs(loss=[2.3, 2.3]), batches([2.3] * 120, 0.1), Context(10, learning_rate=1e-6)),
        ([], batches([2.0, math.inf]), TEN),
    ]
    for history, points, context in histories:
        for f in diagnose(history, points, context):
            assert f.explanation.endswith(".") and f.suggestion.endswith(".") and f.title


@pytest.mark.slow
def test_real_runs_show_their_patterns(diagnosed):
    """Each scenario of tests/trained.py, a real short run built to show one pattern, is diagnosed so."""

    def run(kind):
        _, result = diagnosed[kind]
        saved = json.loads((result.run_dir / "metrics.json").read_text())["diagnosis"]
        assert saved == result.diagnosis
        return [f["kind"] for f in result.diagnosis]

    assert run("diverging") == ["diverging"]  # shapes, LeNet with dropout, learning rate 1
    assert run("not-learning") == ["not-learning"]  # 2,000 digits at a learning rate of 1e-5
    assert run("lr-too-low") == ["lr-too-low"]  # all of mnist-5k for 5 epochs at 2e-5
    assert run("overfitting") == ["overfitting"]  # 400 digits for 25 epochs
    assert run("early-stopping") == ["early-stopping"]  # the same with early stopping, patience 2
    assert run("underfitting") == ["underfitting", "plateau"]  # the minimal CNN on 1,000 shapes at 32x32
    assert "imbalance" in run("imbalance")  # a folder of 60 cats and 12 dogs
