"""Training speed on this CPU (issue 28): images per second in float32, mixed bfloat16 and what `auto`
chooses, and where an epoch's wall time goes.

Every figure trains through the app's own path (`run_training`: tf.data, the session's callbacks,
validation, checkpoints) on mnist-5k, whose images have full MNIST's and Fashion-MNIST's shape.
A run's speed is the median images/s of its epochs after the first (which traces and compiles).
Two settings are compared in alternating pairs (A B, then B A, ...), and the figure is the median
of the pairs' ratios with their range: this VM has spells of half speed, and two other sessions
share its two cores. float32, bfloat16 and `auto` runs alternate (A B C, then C B A, ...). Each
`auto` run starts with an empty measurement cache and decides as it would for the full-size run
(12 epochs of Fashion-MNIST for fashion-cnn and fashion-fast, 8 of MNIST for keras-mnist), so it measures
bfloat16 against float32 (`precision.measure`) every time; its images/s count epochs 2.. as for
the others, and the decision's own seconds are given next to the ratio, with their share of
the full-size run.

The epoch profile wraps each of the session's callbacks with a timer (the sum of its hooks' time
per epoch), and times the training input pipeline alone (iterating its tf.data batches without a
model); forward/backward is the rest of the epoch's training part.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager

from bench.common import median, save, table  # noqa: F401 (save and table: run() below)
from bench.fashion import fresh_precision_cache

# batch: fashion-cnn's and fashion-fast's recommended; keras-mnist as `bench training`
PRESETS = {"fashion-cnn": 128, "fashion-fast": 128, "keras-mnist": 64}
# the full-size run (training images, epochs) auto decides for
FULL_RUN = {"fashion-cnn": (54_000, 12), "fashion-fast": (54_000, 12), "keras-mnist": (54_000, 8)}
EPOCHS, PAIRS = 3, 3


def train(dataset, preset: str, epochs: int = EPOCHS, totals: dict | None = None, **settings) -> dict:
    """One run through the app's path: its images per second of wall time ("wall") and per second of
    this process's CPU time ("cpu", less moved by the other sessions' load), over epochs 2..,
    and `totals` of its callbacks' time per epoch (see `timed_callbacks`)."""
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, TrainConfig
    from cnn_core.training.fit import run_config, run_training

    store, arch, ends = RunStore(tempfile.mkdtemp()), ArchChoice(preset), []
    config = TrainConfig(epochs=epochs, batch_size=PRESETS[preset], **settings)
    with timed_callbacks(defaultdict(float) if totals is None else totals, ends):
        result = run_training(dataset, arch, config, store.new_run(run_config(dataset, arch, config), preset), store)
    images = len(dataset.train) * (epochs - 1)
    wall, cpu = (ends[-1][k] - ends[0][k] for k in (0, 1))
    return {"wall": images / wall, "cpu": images / cpu, "epoch_seconds": wall / (epochs - 1), "result": result}


def alternating(named: dict, rounds: int = PAIRS) -> dict[str, list[dict]]:
    """Each function's runs, called in turn: in the given order, then reversed (A B C, C B A, ...)."""
    runs = {name: [] for name in named}
    for k in range(rounds):
        for name in list(named) if k % 2 == 0 else list(named)[::-1]:
            runs[name].append(named[name]())
    return runs


def compared(runs_a: list[dict], runs_b: list[dict]) -> dict:
    """b's images/s over a's, round by round: the median ratio, its range, each side's median, by
    wall time and by this process's CPU time."""
    found = {}
    for clock in ("wall", "cpu"):
        ratios = [y[clock] / x[clock] for x, y in zip(runs_a, runs_b)]
        found[clock] = {
            "ratio": round(median(ratios), 3),
            "range": [round(min(ratios), 3), round(max(ratios), 3)],
            "a_images_per_s": round(median([x[clock] for x in runs_a])),
            "b_images_per_s": round(median([y[clock] for y in runs_b])),
        }
    return found


def abba(a, b, pairs: int = PAIRS) -> dict:
    """`b()`'s images/s over `a()`'s, in alternating pairs (see `compared`)."""
    runs = alternating({"a": a, "b": b}, pairs)
    return compared(runs["a"], runs["b"])


def shown(found: dict) -> str:
    wall, cpu = found["wall"], found["cpu"]
    return (
        f"{wall['ratio']:.2f}x ({wall['range'][0]:.2f}-{wall['range'][1]:.2f}; {wall['a_images_per_s']:,} -> "
        f"{wall['b_images_per_s']:,} images/s); by CPU time {cpu['ratio']:.2f}x ({cpu['range'][0]:.2f}-{cpu['range'][1]:.2f})"
    )


def train_auto(dataset, preset: str) -> dict:
    """A `train` in precision auto deciding from an empty cache, as for the full-size run of `preset`;
    with its Choice and the seconds deciding took."""
    from cnn_core.training import precision

    real_flop, real_resolve, decided = precision.run_flop, precision.resolve, []

    def timed(*args, **kwargs):
        began = time.perf_counter()
        decided.append((real_resolve(*args, **kwargs), time.perf_counter() - began))
        return decided[-1][0]

    precision.run_flop = lambda model_plan, size, epochs: real_flop(model_plan, *FULL_RUN[preset])
    precision.resolve = timed
    try:
        with fresh_precision_cache():
            found = train(dataset, preset, precision="auto")
    finally:
        precision.run_flop, precision.resolve = real_flop, real_resolve
    return found | {"choice": decided[0][0], "decision_seconds": decided[0][1]}


def precision_figures(dataset) -> dict:
    found = {}
    for preset in PRESETS:
        runs = alternating({
            "float32": lambda p=preset: train(dataset, p, precision="float32"),
            "bfloat16": lambda p=preset: train(dataset, p, precision="bfloat16"),
            "auto": lambda p=preset: train_auto(dataset, p),
        })  # fmt: skip
        chosen = [r["choice"].chosen for r in runs["auto"]]
        decision = median([r["decision_seconds"] for r in runs["auto"]])
        full_run = FULL_RUN[preset][0] * FULL_RUN[preset][1] / median([r["wall"] for r in runs["float32"]])
        found[preset] = {
            "bf16_vs_float32": compared(runs["float32"], runs["bfloat16"]),
            "auto_vs_float32": compared(runs["float32"], runs["auto"]),
            "auto_chose": max(set(chosen), key=chosen.count),
            "auto_choices": chosen,
            "auto_reason": runs["auto"][-1]["choice"].sentence,
            "auto_decision_seconds": round(decision, 1),
            "auto_decision_share_of_full_run": round(decision / full_run, 4),
        }
    return found


HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end")


def timed_class(inner):
    """A Keras callback running `inner`'s hooks and adding their time to `totals["Name (batch|epoch)"]`;
    its class has `inner`'s class name, so `run_training` still finds its HistoryWriter."""
    import keras

    def hook(name):
        def run(self, *args, **kwargs):
            began = time.perf_counter()
            getattr(self.inner, name)(*args, **kwargs)
            key = "batch" if "batch" in name else "epoch"
            self.totals[f"{type(self.inner).__name__} ({key})"] += time.perf_counter() - began

        return run

    def init(self, inner, totals):
        keras.callbacks.Callback.__init__(self)
        self.inner, self.totals = inner, totals

    methods = {name: hook(name) for name in HOOKS} | {
        "__init__": init,
        "set_model": lambda self, model: self.inner.set_model(model),
        "set_params": lambda self, params: self.inner.set_params(params),
        "__getattr__": lambda self, name: getattr(self.__dict__["inner"], name),  # flush(), state()
    }
    return type(type(inner).__name__, (keras.callbacks.Callback,), methods)


@contextmanager
def timed_callbacks(totals: dict, ends: list):
    """While the block runs, `run_training` sessions run each callback through `timed_class`; after
    the first epoch (which traces) the totals start again, and `ends` gets each epoch's end time."""
    import keras

    from cnn_core.training import fit

    original = fit._callbacks

    def mark(epoch, logs):
        ends.append((time.perf_counter(), time.process_time()))
        if epoch == 0:
            totals.clear()

    def wrapped(*args):
        callbacks, divergence, early = original(*args)
        timed = [timed_class(c)(c, totals) for c in callbacks]
        return [*timed, keras.callbacks.LambdaCallback(on_epoch_end=mark)], divergence, early

    fit._callbacks = wrapped
    try:
        yield
    finally:
        fit._callbacks = original


def input_seconds(dataset, batch_size: int) -> float:
    """One epoch of the training input pipeline alone: tf.data batches, no model."""
    from cnn_core.data.pipeline import steps_per_epoch, training_batches

    batches = iter(training_batches(dataset.train, batch_size, 0))
    next(batches)  # the pipeline's start-up, as fit's first epoch pays it
    began = time.perf_counter()
    for _ in range(steps_per_epoch(len(dataset.train), batch_size) - 1):
        next(batches)
    return time.perf_counter() - began


def profile(dataset, preset: str, epochs: int = EPOCHS, **settings) -> dict:
    """Where the wall time of an epoch (after the first) goes, in seconds per epoch and as shares."""
    totals = defaultdict(float)
    found = train(dataset, preset, epochs, totals, **settings)
    wall, rate = found["epoch_seconds"], found["wall"]
    per_epoch = {k: v / (epochs - 1) for k, v in totals.items()}
    parts = {
        "validation (full split, every epoch)": per_epoch.pop("Validation (epoch)", 0.0),
        "live record and per-batch callbacks": sum(v for k, v in per_epoch.items() if k.endswith("(batch)")),
        "checkpoint (copy; the write is in a thread)": per_epoch.pop("Checkpointer (epoch)", 0.0),
        "history, TensorBoard and other epoch callbacks": sum(v for k, v in per_epoch.items() if k.endswith("(epoch)")),
    }
    parts = {"forward and backward (with tf.data prefetching)": wall - sum(parts.values()), **parts}
    alone = input_seconds(dataset, PRESETS[preset])
    return {
        "preset": preset,
        "settings": settings,
        "epoch_seconds": round(wall, 3),
        "images_per_s": round(rate),
        "parts_seconds": {k: round(v, 3) for k, v in parts.items()},
        "shares": {k: round(v / wall, 3) for k, v in parts.items()},
        "input_pipeline_alone_seconds": round(alone, 3),
        "input_pipeline_alone_share": round(alone / wall, 3),
    }


def _with_xla(dataset) -> dict:
    with xla(True):
        return train(dataset, "fashion-cnn", precision="float32")


@contextmanager
def xla(enabled: bool):
    """Compile the app's models with XLA (`jit_compile=True`) while the block runs; Keras' "auto"
    leaves XLA off on a machine without a GPU."""
    from cnn_core import recipe

    original = recipe.compile_model

    def compile_model(model, optimizer):
        model.compile(optimizer=optimizer, loss=recipe.LOSS, metrics=list(recipe.METRICS), jit_compile=True)
        return model

    recipe.compile_model = compile_model if enabled else original
    try:
        yield
    finally:
        recipe.compile_model = original


def _profile_rows(found: dict) -> list[tuple]:
    rows = [(f"{found['preset']} in {found['settings']['precision']}", f"{found['epoch_seconds']:.2f} s an epoch, "
             f"{found['images_per_s']:,} images/s")]  # fmt: skip
    rows += [(f"  {part}", f"{share:.1%}") for part, share in found["shares"].items()]
    rows.append(("  input pipeline alone (overlaps the steps)", f"{found['input_pipeline_alone_share']:.1%}"))
    return rows


def run() -> dict:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import DataConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    dataset = load_dataset(DataConfig("mnist-5k"))
    figures = {"data": f"mnist-5k: {len(dataset.train):,} training, {len(dataset.validation):,} validation images",
               "epochs": EPOCHS, "pairs": PAIRS, "precision": precision_figures(dataset)}  # fmt: skip
    rows = []
    for preset, found in figures["precision"].items():
        decided = (f"deciding took {found['auto_decision_seconds']:.1f} s ({found['auto_decision_share_of_full_run']:.1%} "
                   f"of the full-size float32 run); {found['auto_reason']}")  # fmt: skip
        rows += [
            (f"{preset}, batch {PRESETS[preset]}: bfloat16 / float32", shown(found["bf16_vs_float32"])),
            (f"{preset}: auto / float32", shown(found["auto_vs_float32"])),
            (f"  auto chose {'/'.join(found['auto_choices'])}", decided),
        ]
    table(f"Training images/s through the app's path on {figures['data']} ({PAIRS} alternating rounds, epochs 2-{EPOCHS})",
          rows)  # fmt: skip
    auto = figures["precision"]["fashion-cnn"]["auto_chose"] or "float32"
    figures["profile"] = [
        profile(dataset, "fashion-cnn", precision="float32"),
        profile(dataset, "keras-mnist", precision="float32"),
    ]
    if auto != "float32":
        figures["profile"].append(profile(dataset, "fashion-cnn", precision=auto))
    table(
        "Where an epoch's wall time goes (epochs 2-3; shares of the epoch)",
        [r for f in figures["profile"] for r in _profile_rows(f)],
    )
    figures["xla_vs_default"] = abba(lambda: train(dataset, "fashion-cnn", precision="float32"),
                                     lambda: _with_xla(dataset), pairs=2)  # fmt: skip
    figures["bn_after_pool_bf16"] = abba(lambda: train(dataset, "fashion-cnn", precision="bfloat16"),
                                         lambda: train(dataset, "fashion-fast", precision="bfloat16"), pairs=2)  # fmt: skip
    # bfloat16, not auto: auto keeps float32 for a run as short as these, and chose bfloat16 above for the full-size one
    figures["together"] = abba(lambda: train(dataset, "fashion-cnn", precision="float32"),
                               lambda: train(dataset, "fashion-fast", precision="bfloat16"), pairs=2)  # fmt: skip
    table("Changes tried (kept only when ABBA says faster)",
          [("XLA jit_compile=True vs Keras' auto (off without a GPU), fashion-cnn float32",
            shown(figures["xla_vs_default"]) + ": not kept"),
           ("batch normalisation after pooling, none in the first block (fashion-fast / fashion-cnn), bfloat16",
            shown(figures["bn_after_pool_bf16"]) + ": kept, as the fashion-fast preset"),
           ("together: fashion-fast in bfloat16 (auto's choice for 12 epochs of Fashion-MNIST) / fashion-cnn in float32",
            shown(figures["together"]))])  # fmt: skip
    save("speed", figures)
    return figures
