"""Memory: peak resident memory for a CIFAR-10-sized dataset (60,000 x 32x32x3, made here) loaded
and trained for a few batches, compared with its `uint8` size; and the server's memory over 20
runs in a row (finished jobs must let their datasets go). Each runs in a fresh process.

Two baselines for the first: the process after importing TensorFlow (round 1's figure), and the
same process after training the same model on 600 images, which pays TensorFlow's fixed cost of
training (its graph, kernels and thread pools) without a dataset. The second shows what the
dataset costs."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import save, table

PROBE = r"""
import json, resource, threading, time, tempfile
import numpy as np
from cnn_core.training.build import prepare_tensorflow
prepare_tensorflow()
import keras
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base_now, base_peak = rss(), peak()
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.data.datasets import Dataset, Split, get_spec
from cnn_core.jobs.registry import JobRegistry
from cnn_core.runs.store import RunStore
registry = JobRegistry(1)
def dataset(n):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, n)
    a, b = n * 3 // 4, n * 5 // 6
    return x, Dataset(get_spec("shapes"), DataConfig("cifar-sized"), [str(i) for i in range(10)],
                      Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:]))
def train(data):
    job = registry.submit(data, ArchChoice("keras-mnist"), TrainConfig(epochs=1, batch_size=64), "bench", RunStore(tempfile.mkdtemp()))
    while job.snapshot().points < 50 and job.active:
        time.sleep(0.05)
    job.stop("bench"); job.thread.join()
    return job.snapshot().points
train(dataset(600)[1])  # TensorFlow's fixed cost of training, with almost no data
warm_now, warm_peak = rss(), peak()
x, data = dataset(60_000)
after_data = rss()
batches = train(data)
print(json.dumps({"uint8_bytes": int(x.nbytes), "baseline_rss": base_now, "warm_rss": warm_now, "warm_peak": warm_peak,
                  "after_data_rss": after_data, "peak_rss": peak(), "end_rss": rss(), "batches": batches}))
"""

RUNS = r"""
import json, tempfile
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.data.datasets import load_dataset
from cnn_core.jobs.registry import JobRegistry
from cnn_core.runs.store import RunStore
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096
registry, store, after = JobRegistry(1), RunStore(tempfile.mkdtemp()), []
for i in range(20):  # as a server does: a fresh dataset object per run, the job kept in the registry
    data = load_dataset(DataConfig("mnist-5k", seed=i))
    job = registry.submit(data, ArchChoice("tutorial-minimal"), TrainConfig(epochs=1, batch_size=64, seed=i), f"owner{i}", store)
    del data
    job.thread.join()
    after.append(rss())
print(json.dumps({"after": after, "dataset_bytes": 5000 * 28 * 28}))
"""


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> dict:
    m = _probe(PROBE)
    mib = 2**20
    warm = max(m["warm_rss"], m["warm_peak"])
    figures = {
        "dataset_uint8_mib": round(m["uint8_bytes"] / mib),
        "process_baseline_mib": round(m["baseline_rss"] / mib),
        "warm_baseline_mib": round(warm / mib),
        "peak_rss_mib": round(m["peak_rss"] / mib),
        "peak_above_baseline_mib": round((m["peak_rss"] - m["baseline_rss"]) / mib),
        "peak_above_baseline_vs_uint8": round((m["peak_rss"] - m["baseline_rss"]) / m["uint8_bytes"], 2),
        "peak_above_warm_vs_uint8": round((m["peak_rss"] - warm) / m["uint8_bytes"], 2),
        "float32_copy_would_be_mib": round(m["uint8_bytes"] * 4 / mib),
        "batches_trained": m["batches"],
    }
    runs = _probe(RUNS)["after"]
    figures |= {
        "server_after_run_1_mib": round(runs[0] / mib),
        "server_after_run_10_mib": round(runs[9] / mib),
        "server_after_run_20_mib": round(runs[-1] / mib),
        "growth_runs_2_to_20_mib": round((runs[-1] - runs[1]) / mib),
    }
    table(
        "Memory: 60,000 images of 32x32x3 (CIFAR-10-sized), keras-mnist-style model, 50 batches",
        [
            (
                "dataset as uint8",
                f"{figures['dataset_uint8_mib']} MiB (as float32 it would be {figures['float32_copy_would_be_mib']} MiB)",
            ),
            ("process after importing TensorFlow", f"{figures['process_baseline_mib']} MiB"),
            ("peak resident memory", f"{figures['peak_rss_mib']} MiB"),
            (
                "peak above baseline / dataset size",
                f"{figures['peak_above_baseline_mib']} MiB = {figures['peak_above_baseline_vs_uint8']}x",
            ),
            (
                "peak above a warm baseline (same model trained on 600 images first) / dataset size",
                f"{figures['peak_rss_mib'] - figures['warm_baseline_mib']} MiB = {figures['peak_above_warm_vs_uint8']}x (goal 1.3x)",
            ),
            (
                "server memory after 1 / 10 / 20 runs in a row (mnist-5k, one epoch each)",
                f"{figures['server_after_run_1_mib']} / {figures['server_after_run_10_mib']} / {figures['server_after_run_20_mib']} MiB "
                f"(runs 2 to 20: {figures['growth_runs_2_to_20_mib']:+} MiB)",
            ),
        ],
    )
    save("memory", figures)
    return figures
