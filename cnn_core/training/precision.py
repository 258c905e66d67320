"""Which precision a run trains in: float32, or mixed bfloat16 where this machine computes it faster.

`auto` picks mixed bfloat16 only when the hardware has bfloat16 units (AMX-BF16 or AVX512-BF16 in
the CPU's flags, or a GPU of compute capability 8.0 or more) and a short measurement of the run's
own model says bfloat16 trains at least `FASTER` times as many images a second as float32. The
measurement trains both precisions on one batch of random images, in alternating pairs (ABBA),
and is kept in a small cache keyed by the model's layers, input shape, batch size and hardware,
so the same model on the same machine is measured once. A run too short to pay for a measurement
stays float32. Every choice comes with its reason, one sentence the Train page shows and the run's
config.json records (`"precision"`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cnn_core import recipe
from cnn_core.paths import data_dir
from cnn_core.runs.atomic import atomic_write

CPU_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}  # /proc/cpuinfo flag -> name, best first
FASTER = 1.10  # bfloat16's median ratio must reach this: auto must never be slower, and pairs are noisy
MIN_RUN_FLOP = 2e12  # below this (about half a minute of training here) a measurement costs more than it saves
PAIRS = 3
PAIR_SECONDS = 0.6  # each half of a pair trains about this long
DETECT = "detect"
CACHE_ENTRIES = 200  # the newest measurements kept
CACHE_BYTES = 2**20  # a cache file larger than this is ignored (and replaced at the next measurement)
CHOSEN = ("float32", "bfloat16")
NO_UNITS = "this machine has no bfloat16 units (AMX-BF16 or AVX512-BF16 in the CPU, or a GPU of compute capability 8.0+)"


@dataclass(frozen=True)
class Choice:
    """The precision a run trains in, and why.

    Args:
        setting: what was asked for: "auto", "float32" or "bfloat16".
        chosen: "float32" or "bfloat16" (mixed: float32 weights, bfloat16 computation); "" when the
            preview cannot tell before measuring.
        reason: why, in words.
        ratios: bfloat16's images/s over float32's, one per measured pair (empty when not measured).
    """

    setting: str
    chosen: str
    reason: str
    ratios: list[float] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        """What the Train page shows: "auto chose float32: bf16 measured 0.95x on this model …"."""
        if self.setting != "auto":
            return self.reason
        return f"auto chose {self.chosen}: {self.reason}" if self.chosen else f"auto decides when training starts: {self.reason}"

    def record(self) -> dict:
        return asdict(self)


def valid_ratios(found) -> list[float] | None:
    """`found` as measured ratios when it is a list of 1-50 finite numbers in [0.01, 100], else None
    (a cache file or run record may have been edited by hand)."""
    if not isinstance(found, list) or not 1 <= len(found) <= 50:
        return None
    if not all(isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r) and 0.01 <= r <= 100 for r in found):
        return None
    return [float(r) for r in found]


def from_record(found, setting: str = "auto") -> Choice | None:
    """The Choice a run recorded in its config.json (`"precision"`), checked; None when there is none
    or it names no precision. Fields that do not fit are dropped, never trusted."""
    from cnn_core.settings.config import PRECISIONS

    if not isinstance(found, dict) or found.get("chosen") not in CHOSEN:
        return None
    kept = found.get("setting") if isinstance(found.get("setting"), str) and found["setting"] in PRECISIONS else setting
    reason = found.get("reason") if isinstance(found.get("reason"), str) else ""
    return Choice(kept, found["chosen"], reason[:500], valid_ratios(found.get("ratios")) or [])


def cpu_bf16(flags: str) -> str | None:
    """The name of the best bfloat16 unit among a CPU's flags (a /proc/cpuinfo "flags" line), or None."""
    present = set(flags.split())
    return next((name for flag, name in CPU_FLAGS.items() if flag in present), None)


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return next((line.partition(":")[2] for line in text.splitlines() if line.startswith("flags")), "")


def gpu_bf16(tensorflow_loaded_only: bool = False) -> str | None:
    """The first GPU with bfloat16 (compute capability 8.0 or more), named; None without one.

    `tensorflow_loaded_only`: answer None rather than import TensorFlow (the Train page's preview).
    """
    import sys

    if tensorflow_loaded_only and "tensorflow" not in sys.modules:
        return None
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability") or (0, 0)
        if tuple(capability) >= (8, 0):
            return f"GPU {details.get('device_name', gpu.name)} (compute capability {capability[0]}.{capability[1]})"
    return None


def bf16_hardware(tensorflow_loaded_only: bool = False) -> str | None:
    """Where bfloat16 would run fast here: a GPU with bfloat16, else the CPU's AMX-BF16 or AVX512-BF16."""
    return gpu_bf16(tensorflow_loaded_only) or cpu_bf16(cpu_flags())


def run_flop(model_plan, train_size: int, epochs: int) -> float:
    """Training's floating-point operations: 2 per multiply-add forward, twice that backward."""
    return 6.0 * model_plan.macs * train_size * epochs


def layer_specs(model_plan) -> list[tuple]:
    return [(info.type, info.config, info.name) for info in model_plan.layers]


def cache_file() -> Path:
    """`CNN_STUDIO_PRECISION_CACHE`, or precision.json in the app's data folder (the app writes
    nowhere else: not in the user's home)."""
    if os.environ.get("CNN_STUDIO_PRECISION_CACHE"):
        return Path(os.environ["CNN_STUDIO_PRECISION_CACHE"])
    return data_dir() / "precision.json"


def cache_key(model_plan, batch_size: int) -> str:
    """The model as the measurement saw it: layers, input shape and batch size."""
    specs = [(kind, {k: v for k, v in config.items() if k != "row"}, "") for kind, config, _ in layer_specs(model_plan)]
    text = json.dumps([specs, list(model_plan.input_shape), batch_size], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_cache() -> dict:
    """The cache's entries; {} for a missing, unreadable, oversized or malformed file."""
    try:
        if cache_file().stat().st_size > CACHE_BYTES:
            return {}
        found = json.loads(cache_file().read_text(encoding="utf-8"))
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def cached(model_plan, batch_size: int, hardware: str) -> list[float] | None:
    """The ratios measured earlier for this model on this hardware, or None (also for a damaged entry)."""
    entry = _read_cache().get(cache_key(model_plan, batch_size))
    if isinstance(entry, dict) and entry.get("hardware") == hardware:
        return valid_ratios(entry.get("ratios"))
    return None


def _when(entry) -> float:
    at = entry.get("at") if isinstance(entry, dict) else None
    return float(at) if isinstance(at, (int, float)) and math.isfinite(at) else 0.0


def remember(model_plan, batch_size: int, hardware: str, ratios: list[float]) -> None:
    """Keep a measurement; the cache holds the newest `CACHE_ENTRIES`."""
    try:
        found = _read_cache() | {cache_key(model_plan, batch_size): {"hardware": hardware, "ratios": ratios, "at": time.time()}}
        newest = sorted(found.items(), key=lambda item: _when(item[1]), reverse=True)[:CACHE_ENTRIES]
        cache_file().parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file(), json.dumps(dict(newest), indent=1))
    except OSError:
        pass  # a data folder that cannot be written: measure again next time


def _images_per_second(model, x, y, steps: int) -> float:
    began = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * len(x) / (time.perf_counter() - began)


def measure(model_plan, batch_size: int, pairs: int = PAIRS) -> list[float]:
    """bfloat16's training images/s over float32's for this model, one ratio per alternating pair.

    Both models train on one fixed batch of random images (the model's step, without the input
    pipeline, which costs both the same); each first traces and compiles with two warm-up steps.
    """
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch_size, *model_plan.input_shape), dtype=np.uint8)
    y = rng.integers(0, int(model_plan.layers[-1].output_shape[-1]), batch_size)
    models, step_seconds = {}, 0.0
    for precision in ("float32", "bfloat16"):
        model = recipe.build_model(layer_specs(model_plan), model_plan.input_shape, (), precision=precision)
        recipe.compile_model(model, keras.optimizers.Adam(1e-3))
        model.train_on_batch(x, y)
        step_seconds = max(step_seconds, batch_size / _images_per_second(model, x, y, 1))
        models[precision] = model
    steps = int(min(20, max(2, PAIR_SECONDS / max(step_seconds, 1e-4))))
    ratios = []
    for k in range(pairs):
        order = ("float32", "bfloat16") if k % 2 == 0 else ("bfloat16", "float32")
        rates = {p: _images_per_second(models[p], x, y, steps) for p in order}
        ratios.append(round(rates["bfloat16"] / rates["float32"], 3))
    return ratios


def measured_reason(ratios: list[float], hardware: str, was_cached: bool) -> tuple[str, str]:
    """(chosen, reason) from measured ratios."""
    median = statistics.median(ratios)
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}x over {len(ratios)} alternating pairs on {hardware}"
    when = ", measured earlier" if was_cached else ""
    if median >= FASTER:
        return "bfloat16", f"bf16 measured {median:.2f}x float32's images/s on this model ({spread}{when})"
    return "float32", f"bf16 measured {median:.2f}x on this model ({spread}{when}); auto wants {FASTER:.2f}x or more"


def resolve(
    setting: str, model_plan, batch_size: int, train_size: int, epochs: int, measure_now: bool = True, hardware=DETECT,
    announce=None,
) -> Choice:  # fmt: skip
    """The precision for a run of `epochs` epochs over `train_size` images of `model_plan`.

    Args:
        measure_now: False for the Train page's preview: use only the cache and the CPU's flags,
            and say when a measurement is still to come; no TensorFlow is imported.
        hardware: the bfloat16 unit's name, or None for none; by default `bf16_hardware()`.
        announce: called with a sentence just before a measurement starts (the live record says it).
    """
    if setting == "float32":
        return Choice(setting, "float32", "float32, as set")
    if hardware == DETECT:
        hardware = bf16_hardware(tensorflow_loaded_only=not measure_now)
    if setting == "bfloat16":
        warn = "" if hardware else f"; {NO_UNITS}, so expect it to be slower than float32"
        return Choice(setting, "bfloat16", f"mixed bfloat16, as set{warn}")
    if not hardware:
        return Choice(setting, "float32", NO_UNITS)
    flop = run_flop(model_plan, train_size, epochs)
    if flop < MIN_RUN_FLOP:
        return Choice(setting, "float32", f"this run is short ({flop / 1e12:.2g} TFLOP of training; auto measures "
                      f"bfloat16 for runs from {MIN_RUN_FLOP / 1e12:g} TFLOP, about half a minute here)")  # fmt: skip
    ratios = cached(model_plan, batch_size, hardware)
    was_cached = ratios is not None
    if ratios is None and not measure_now:
        return Choice(setting, "", f"it times bfloat16 against float32 on this model ({hardware}) for a few seconds, "
                      "then picks the faster")  # fmt: skip
    if ratios is None:
        if announce:
            announce(f"measuring bfloat16 against float32 on this model ({hardware}) for a few seconds, for auto precision")
        try:
            ratios = measure(model_plan, batch_size)
        except Exception as exc:  # noqa: BLE001 - a failed measurement must not fail the run: float32 always works
            return Choice(setting, "float32", f"measuring bfloat16 on this model failed ({type(exc).__name__}: {str(exc)[:200]})")
        remember(model_plan, batch_size, hardware, ratios)
    chosen, reason = measured_reason(ratios, hardware, was_cached)
    return Choice(setting, chosen, reason, ratios)


def for_run(
    run_dir: Path, setting: str, model_plan, batch_size: int, train_size: int, epochs: int, resumed: bool, announce=None
) -> Choice:
    """A training session's precision, recorded in the run's config.json as `"precision"`.

    A resumed run keeps the precision it recorded (its checkpoints hold float32 weights either
    way, so this is about speed and sameness, not compatibility); a record that names no
    precision (edited by hand) is decided again.
    """
    from cnn_core.runs.store import read_json, update_config

    found = from_record(read_json(Path(run_dir) / "config.json").get("precision"), setting) if resumed else None
    if found is not None:
        return found
    choice = resolve(setting, model_plan, batch_size, train_size, epochs, announce=announce)
    update_config(Path(run_dir), precision=choice.record())
    return choice
