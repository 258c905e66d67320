"""Memory: peak resident memory for a CIFAR-10-sized dataset (50,000 x 32x32x3, made here) loaded
and trained for a few batches, compared with its `uint8` size. Runs in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import save, table

PROBE = r"""
import json, resource, threading, time, tempfile
import numpy as np
from cnn_core.training import prepare_tensorflow
prepare_tensorflow()
import keras
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base_now, base_peak = rss(), peak()
from cnn_core.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.datasets import Dataset, Split, get_spec
from cnn_core.jobs import JobRegistry
from cnn_core.runs import RunStore
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (60_000, 32, 32, 3), dtype=np.uint8)
y = rng.integers(0, 10, 60_000)
data = Dataset(get_spec("shapes"), DataConfig("cifar-sized"), [str(i) for i in range(10)],
               Split(x[:45_000], y[:45_000]), Split(x[45_000:50_000], y[45_000:50_000]), Split(x[50_000:], y[50_000:]))
after_data = rss()
job = JobRegistry(1).submit(data, ArchChoice("keras-mnist"), TrainConfig(epochs=1, batch_size=64), "bench", RunStore(tempfile.mkdtemp()))
while job.snapshot().points < 50:
    time.sleep(0.05)
job.stop("bench"); job.thread.join()
print(json.dumps({"uint8_bytes": int(x.nbytes), "baseline_rss": base_now, "after_data_rss": after_data,
                  "peak_rss": peak(), "end_rss": rss(), "batches": job.snapshot().points}))
"""


def run() -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=900)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 2**20
    figures = {
        "dataset_uint8_mib": round(m["uint8_bytes"] / mib),
        "process_baseline_mib": round(m["baseline_rss"] / mib),
        "peak_rss_mib": round(m["peak_rss"] / mib),
        "peak_above_baseline_mib": round((m["peak_rss"] - m["baseline_rss"]) / mib),
        "peak_above_baseline_vs_uint8": round((m["peak_rss"] - m["baseline_rss"]) / m["uint8_bytes"], 2),
        "float32_copy_would_be_mib": round(m["uint8_bytes"] * 4 / mib),
        "batches_trained": m["batches"],
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
        ],
    )
    save("memory", figures)
    return figures
