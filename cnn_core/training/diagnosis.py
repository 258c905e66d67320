"""Plain-language diagnosis of a training run, from its curves alone.

`diagnose` is a pure function of the history (per epoch), the recent batches and a little context
(number of classes, class counts, learning rate). Each `Finding` carries its evidence (epochs and
values), one sentence a learner can follow, a concrete suggestion and the setting it concerns, and
the epochs to shade on the chart. The rules and their thresholds are deliberately simple, so that
the evidence printed is the whole reason for the finding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

OVERFIT_EPOCHS = 3  # validation loss rising this many epochs in a row while training loss falls
GAP = 0.10  # train minus validation accuracy that counts as a gap
FLAT = 0.01  # relative change per epoch below which a curve is flat
IMBALANCE = 3.0  # largest class / smallest class


@dataclass(frozen=True)
class Finding:
    kind: str
    title: str
    evidence: str
    explanation: str
    suggestion: str
    setting: str | None = None  # the TrainConfig field the suggestion concerns
    page: str = "train"  # where that setting lives
    value: object = None  # the value the suggestion proposes for that setting
    start: float | None = None  # epochs to shade on the chart
    end: float | None = None
    severity: str = "warning"  # "error", "warning" or "info"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Context:
    """What the rules need besides the curves."""

    num_classes: int
    learning_rate: float = 0.001
    class_counts: list[int] | None = None
    class_names: list[str] | None = None
    message: str = ""  # the run's status message (divergence and early stopping say so there)
    steps_per_epoch: int = 1


def diagnose(history: list[dict], batches: list[dict], context: Context) -> list[Finding]:
    """Every finding for a run so far, most urgent first."""
    found = [
        _diverging(history, batches, context),
        _not_learning(history, batches, context),
        _overfitting(history),
        _underfitting(history, context),
        _too_low(history, context),
        _plateau(history, context),
        _imbalance(context),
        _early_stopping(history, context),
    ]
    found = [f for f in found if f is not None]
    kinds = {f.kind for f in found}
    if kinds & {"diverging", "not-learning"}:  # the other curve rules would only restate it
        found = [f for f in found if f.kind not in ("underfitting", "plateau", "lr-too-low", "overfitting")]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: order[f.severity])


def _series(history: list[dict], key: str) -> list[float]:
    return [float(h[key]) for h in history if isinstance(h.get(key), (int, float))]


def _diverging(history, batches, context) -> Finding | None:
    bad = next((b for b in batches if b.get("loss") is not None and not math.isfinite(b["loss"])), None)
    if bad is None and "diverged" not in context.message:
        train = _series(history, "loss")
        if len(train) < 3 or train[-1] < 1.5 * min(train) or train[-1] < train[0]:
            return None
        evidence = f"training loss rose from {min(train):.3g} to {train[-1]:.3g} (epoch {len(train)})"
        start = float(train.index(min(train)) + 1)
    else:
        where = bad["x"] if bad else (batches[-1]["x"] if batches else 0.0)
        evidence = context.message or f"the loss became {bad['loss']} at epoch {where:.2f}"
        start = float(where)
    lower = context.learning_rate / 10
    return Finding(
        "diverging", "Diverging: the learning rate is too high", evidence,
        "Each update overshoots, so the loss grows instead of shrinking until the numbers overflow.",
        f"Lower the learning rate to {lower:g} (from {context.learning_rate:g}), or use a warm-up.",
        "learning_rate", "train", lower, start, None, "error",
    )  # fmt: skip


def _not_learning(history, batches, context) -> Finding | None:
    chance = math.log(max(context.num_classes, 2))
    recent = [b["loss"] for b in batches[-max(10, len(batches) // 5) :] if b.get("loss") is not None and math.isfinite(b["loss"])]
    if len(batches) < max(50, context.steps_per_epoch) or not recent:
        return None
    loss = sum(recent) / len(recent)
    accuracy = [b["accuracy"] for b in batches[-len(recent) :] if b.get("accuracy") is not None]
    acc = sum(accuracy) / len(accuracy) if accuracy else 0.0
    if loss < 0.9 * chance or acc > 1.5 / context.num_classes:
        return None
    better = 0.001 if context.learning_rate < 1e-4 else context.learning_rate / 10
    hint = "raise it to 0.001 (Adam) or 0.01 (SGD)" if context.learning_rate < 1e-4 else "lower it tenfold, or check the labels"
    return Finding(
        "not-learning", "Not learning: the model is guessing",
        f"after {len(batches):,} batches the loss is {loss:.3f}, about ln({context.num_classes}) = {chance:.3f}, "
        f"and accuracy {acc:.1%} is chance level (1/{context.num_classes} = {1 / context.num_classes:.1%})",
        "A loss of ln(number of classes) means the model spreads its belief evenly over every class: it has learned nothing yet.",
        f"Check the learning rate ({context.learning_rate:g}): {hint}.",
        "learning_rate", "train", better, 0.0, batches[-1]["x"], "error",
    )  # fmt: skip


def _overfitting(history) -> Finding | None:
    val, train = _series(history, "val_loss"), _series(history, "loss")
    if len(val) < OVERFIT_EPOCHS + 1 or len(train) != len(val):
        return None
    best = val.index(min(val))
    rising = len(val) - 1 - best if val[-1] > 1.02 * val[best] else 0  # flat is not rising
    train_falls = train[-1] < train[best]
    val_acc, train_acc = _series(history, "val_accuracy"), _series(history, "accuracy")
    gap = train_acc[-1] - val_acc[-1] if val_acc and train_acc else 0.0
    memorising = train_acc and train_acc[-1] >= 0.6  # a gap between two low accuracies is underfitting, not this
    growing_gap = memorising and len(val_acc) >= 3 and gap >= GAP and gap > (train_acc[-3] - val_acc[-3])
    if not ((rising >= OVERFIT_EPOCHS and train_falls) or growing_gap):
        return None
    evidence = (
        f"validation loss rose for {rising} epochs, from {val[best]:.3f} (epoch {best + 1}) to {val[-1]:.3f}, "
        f"while training loss fell from {train[best]:.3f} to {train[-1]:.3f}"
        if rising >= OVERFIT_EPOCHS
        else f"training accuracy {train_acc[-1]:.1%} is {gap:.1%} above validation accuracy {val_acc[-1]:.1%}, and the gap grows"
    )
    return Finding(
        "overfitting", "Overfitting: the model is memorising the training images", evidence,
        "It keeps getting better on images it has seen and worse on new ones: it learns their details, not the classes.",
        f"Add dropout (0.3 to 0.5) on the Model page, add augmentation, or use early stopping; the best epoch so far is {best + 1}.",
        "dropout", "model", 0.4, float(best + 1), float(len(val)),
    )  # fmt: skip


def _underfitting(history, context) -> Finding | None:
    train, val = _series(history, "accuracy"), _series(history, "val_accuracy")
    if len(train) < 3:
        return None
    chance = 1 / max(context.num_classes, 2)
    low = train[-1] < max(0.6, 2 * chance) and (not val or val[-1] < max(0.6, 2 * chance))
    flat = abs(train[-1] - train[-3]) < 0.05
    if not (low and flat) or train[-1] <= 1.5 * chance:
        return None
    return Finding(
        "underfitting", "Underfitting: training and validation accuracy are both low and flat",
        f"training accuracy {train[-1]:.1%} and validation accuracy {val[-1] if val else float('nan'):.1%} "
        f"changed by {abs(train[-1] - train[-3]):.1%} over the last 3 epochs",
        "The model cannot even fit the training images: it is too small, or the training too short or too timid.",
        "Choose a bigger architecture (more filters or layers) on the Model page, or train longer with a higher learning rate.",
        "epochs", "train", 2 * len(train), float(len(train) - 2), float(len(train)),
    )  # fmt: skip


def _too_low(history, context) -> Finding | None:
    train = _series(history, "loss")
    if len(train) < 3 or context.learning_rate > 3e-4:
        return None
    steady = all(b < a for a, b in zip(train, train[1:]))
    drop = (train[0] - train[-1]) / train[0] if train[0] > 0 else 0.0
    if not (steady and drop < 0.3 and train[-1] > 0.5 * math.log(max(context.num_classes, 2))):
        return None
    return Finding(
        "lr-too-low", "Learning slowly: the learning rate may be too low",
        f"training loss fell every epoch but only by {drop:.0%} in {len(train)} epochs ({train[0]:.3f} → {train[-1]:.3f}) "
        f"at a learning rate of {context.learning_rate:g}",
        "Small steps make steady but slow progress: the model would need many more epochs to get anywhere.",
        f"Raise the learning rate tenfold, to {context.learning_rate * 10:g}, or find one with the learning-rate finder.",
        "learning_rate", "train", context.learning_rate * 10, 0.0, float(len(train)), "info",
    )  # fmt: skip


def _plateau(history, context) -> Finding | None:
    loss = _series(history, "val_loss") or _series(history, "loss")
    accuracy = _series(history, "val_accuracy") or _series(history, "accuracy")
    if len(loss) < 5 or (accuracy and accuracy[-1] > 0.99):
        return None
    window = loss[-4:]
    change = max(abs(b - a) / max(abs(a), 1e-9) for a, b in zip(window, window[1:]))
    if change >= FLAT:
        return None
    return Finding(
        "plateau", "Plateau: the loss has stopped improving",
        f"the {'validation ' if _series(history, 'val_loss') else ''}loss changed by less than {FLAT:.0%} per epoch over the "
        f"last 3 epochs (now {loss[-1]:.4f})",
        "Training has settled: more epochs at this learning rate will change little.",
        "Use a learning-rate schedule (step or cosine decay) to take smaller steps now, or stop here.",
        "schedule", "train", "cosine", float(len(loss) - 3), float(len(loss)), "info",
    )  # fmt: skip


def _imbalance(context) -> Finding | None:
    counts = context.class_counts or []
    if len(counts) < 2 or min(counts) == 0 or max(counts) / min(counts) < IMBALANCE:
        return None
    names = context.class_names or [str(i) for i in range(len(counts))]
    big, small = counts.index(max(counts)), counts.index(min(counts))
    return Finding(
        "imbalance", "Class imbalance in the training data",
        f"'{names[big]}' has {max(counts):,} training images and '{names[small]}' only {min(counts):,} "
        f"({max(counts) / min(counts):.1f} times fewer)",
        "A model can score well by favouring the big classes and still miss most of the small one.",
        "Look at each class's recall on the Evaluate page, and add images of the small classes if you can.",
        None, "data", None, severity="info",
    )  # fmt: skip


def _early_stopping(history, context) -> Finding | None:
    if "early stopping" not in context.message:
        return None
    return Finding(
        "early-stopping", "Early stopping ended training", context.message,
        "The validation loss stopped improving, so training ended and the weights of the best epoch were kept.",
        "Nothing to fix: that is its job. For more, add dropout or augmentation and allow more patience.",
        "patience", "train", None, None, float(len(history)), "info",
    )  # fmt: skip


RECENT = 2000  # batches the batch-level rules look at


def context_of(run_config: dict, message: str = "") -> Context:
    """The context of a saved run, from its config.json."""
    dataset, train = run_config.get("dataset", {}), run_config.get("train", {})
    names = dataset.get("class_names", [])
    steps = -(-int(dataset.get("train_size", 1)) // int(train.get("batch_size", 1) or 1))
    return Context(len(names) or 2, float(train.get("learning_rate", 0.001)), dataset.get("train_counts"), names, message, steps)
