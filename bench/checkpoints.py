"""Checkpoints: what saving every epoch costs the presets on mnist-5k, and how fast a paused run resumes.

Cost is measured three ways for each preset that fits 28x28 digits:
- the training thread's share: copying the variables at each epoch's end, over the epoch's time;
- the writer thread's time (it overlaps training, but shares the two cores);
- for keras-mnist, whole epochs with checkpoints against the same run without them, in ABBA pairs.

Resume latency is the time from `resume` to the first newly trained batch, for a run paused mid-epoch.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace

from bench.common import median, save, table

PRESETS = ("tutorial-minimal", "keras-mnist", "lenet-dropout", "malaria-bn")
EPOCHS, PAIRS = 4, 3


def _timed_capture():
    """Wrap checkpoints.capture and CheckpointWriter.submit's writes to time them."""
    from cnn_core.training import checkpoints

    spent = {"capture": [], "write": []}
    capture, write = checkpoints.capture, checkpoints.write

    def timed_capture(model):
        start = time.perf_counter()
        arrays = capture(model)
        spent["capture"].append(time.perf_counter() - start)
        return arrays

    def timed_write(run_dir, info, arrays):
        start = time.perf_counter()
        out = write(run_dir, info, arrays)
        spent["write"].append(time.perf_counter() - start)
        return out

    checkpoints.capture, checkpoints.write = timed_capture, timed_write
    return spent, lambda: setattr(checkpoints, "capture", capture) or setattr(checkpoints, "write", write)


def _train(dataset, preset: str, config, checkpoints_on: bool = True):
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice
    from cnn_core.training import callbacks
    from cnn_core.training.fit import run_config, run_training

    store, arch = RunStore(tempfile.mkdtemp()), ArchChoice(preset)
    original = callbacks.Checkpointer.on_epoch_end
    if not checkpoints_on:
        callbacks.Checkpointer.on_epoch_end = lambda self, epoch, logs=None: None
    try:
        result = run_training(dataset, arch, config, store.new_run(run_config(dataset, arch, config), preset), store)
    finally:
        callbacks.Checkpointer.on_epoch_end = original
    seconds = [row["seconds"] for row in result.history]
    return result, median([b - a for a, b in zip(seconds, seconds[1:])])


def _costs(dataset, config) -> list[dict]:
    from cnn_core.training import checkpoints

    rows = []
    for preset in PRESETS:
        spent, undo = _timed_capture()
        try:
            result, epoch_s = _train(dataset, preset, config)
        finally:
            undo()
        saved = checkpoints.list_checkpoints(result.run_dir)
        rows.append({
            "preset": preset, "epoch_s": round(epoch_s, 3), "checkpoint_mb": round(saved[-1].bytes / 2**20, 2),
            "capture_ms": round(1000 * median(spent["capture"]), 2), "write_ms": round(1000 * median(spent["write"]), 1),
            "thread_share": round(median(spent["capture"]) / epoch_s, 4), "writer_share": round(median(spent["write"]) / epoch_s, 4),
        })  # fmt: skip
    return rows


def _ab(dataset, config) -> dict:
    on, off = [], []
    for k in range(PAIRS):
        order = (True, False) if k % 2 == 0 else (False, True)
        for flag in order:
            (on if flag else off).append(_train(dataset, "keras-mnist", config, flag)[1])
    return {"with_s": round(median(on), 3), "without_s": round(median(off), 3), "ratio": round(median(on) / median(off), 3)}


def _resume_latency(dataset, config) -> dict:
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice

    registry, store = JobRegistry(1), RunStore(tempfile.mkdtemp())
    job = registry.submit(dataset, ArchChoice("keras-mnist"), replace(config, epochs=20), "bench", store)
    while job.snapshot().points < 80:
        time.sleep(0.02)
    start = time.perf_counter()
    job.pause("bench")
    job.wait()
    paused = time.perf_counter() - start
    before = job.snapshot().points
    start = time.perf_counter()
    again = registry.resume(job.run_id, "bench", dataset, store=store)
    while again.snapshot().points <= before:
        time.sleep(0.005)
    latency = time.perf_counter() - start
    again.stop("bench")
    again.wait()
    return {"pause_s": round(paused, 2), "resume_to_first_batch_s": round(latency, 2)}


def run() -> dict:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import DataConfig, TrainConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    dataset = load_dataset(DataConfig("mnist-5k"))
    config = TrainConfig(epochs=EPOCHS, batch_size=64)
    figures = {
        "presets": _costs(dataset, config),
        "keras_mnist_ab": _ab(dataset, config),
        "resume": _resume_latency(dataset, config),
    }
    rows = [
        (f"{r['preset']} ({r['checkpoint_mb']} MB)",
         f"epoch {r['epoch_s']:.2f} s; training thread {r['capture_ms']:.1f} ms = {r['thread_share']:.2%}; "
         f"writer thread {r['write_ms']:.0f} ms = {r['writer_share']:.1%} (in the background)")
        for r in figures["presets"]
    ]  # fmt: skip
    ab = figures["keras_mnist_ab"]
    rows.append(
        (
            "keras-mnist epoch with / without checkpoints",
            f"{ab['with_s']:.3f} s / {ab['without_s']:.3f} s: ratio {ab['ratio']} (goal <= 1.03)",
        )
    )
    res = figures["resume"]
    rows.append(("pause (after the current batch, resume point saved)", f"{res['pause_s']:.2f} s"))
    rows.append(("resume: from the call to the first new batch", f"{res['resume_to_first_batch_s']:.2f} s"))
    table(f"Checkpoints on mnist-5k, batch 64 ({EPOCHS} epochs each; A/B in {PAIRS} ABBA pairs)", rows)
    save("checkpoints", figures)
    return figures
