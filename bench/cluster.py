"""Load simulation of a classroom on the Ray backend: 30 sessions each submit a small job at once.

Runs on loopback only: a one-node cluster on 127.0.0.1 with 1, then 2 worker CPUs (each job asks
for 1 CPU), started and stopped here. The sessions share one job registry, as the browser sessions
of one server do. Reported: each job's queue wait (submitted → training), the total time, and
checks that every run completed, is saved with its model, and belongs to the session that started
it. For comparison, the same 30 jobs on this machine's in-process backend (one at a time), which is
what a user has without a cluster. Each configuration stops after LIMIT seconds.

Each Ray job is a new worker process that imports TensorFlow (about 3-8 s here): on one small
machine that is pure overhead; the cluster pays off when it has more machines than this one. Warm
workers (cnn_core/jobs/warm.py) do not change this load: all 30 actors are already waiting for CPUs
when the first job ends, and an actor is not kept while a job of its server waits.
"""

from __future__ import annotations

import os
import time

from bench.common import median, save, table

SESSIONS = 30
LIMIT = 900.0  # seconds per configuration


def _simulate(registry, dataset, owners) -> dict:
    from cnn_core.runs.store import RunStore, owner_tag, read_json
    from cnn_core.settings.config import ArchChoice, TrainConfig

    arch, config = ArchChoice("keras-mnist"), TrainConfig(epochs=1, batch_size=32)
    began = time.perf_counter()
    jobs, submitted, started, ended = [], {}, {}, {}
    for owner in owners:
        job = registry.submit(dataset, arch, config, owner)
        jobs.append(job)
        submitted[job.run_id] = time.perf_counter()
    while time.perf_counter() - began < LIMIT and len(ended) < len(jobs):
        now = time.perf_counter()
        for job in jobs:
            if job.run_id not in started and job.status != "queued":
                started[job.run_id] = now
            if job.run_id not in ended and not job.active and not job.thread.is_alive():
                ended[job.run_id] = now
        time.sleep(0.1)
    total = time.perf_counter() - began
    store = RunStore()
    completed = sum(store.info(j.run_dir).status == "completed" for j in jobs)
    saved = sum((j.run_dir / "model.keras").is_file() and (j.run_dir / "metrics.json").is_file() for j in jobs)
    owned = sum(read_json(j.run_dir / "config.json")["owner"] == owner_tag(o) for j, o in zip(jobs, owners))
    waits = [started[j] - submitted[j] for j in started]
    training = [float(read_json(j.run_dir / "status.json").get("duration", 0)) for j in jobs if j.run_id in ended]
    return {
        "total_s": round(total, 1), "completed": completed, "saved": saved, "owners_right": owned,
        "wait_median_s": round(median(waits), 1) if waits else None, "wait_max_s": round(max(waits), 1) if waits else None,
        "training_median_s": round(median(training), 2) if training else None,
    }  # fmt: skip


def run() -> dict:
    import secrets
    import tempfile

    from cnn_core.data.datasets import load_dataset
    from cnn_core.jobs import cluster
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.settings.config import DataConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    dataset = load_dataset(DataConfig(dataset_id="mnist-5k", limit=600))
    owners = [f"session-{i:02d}-secret" for i in range(SESSIONS)]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as runs:
        os.environ["CNN_STUDIO_RUNS_DIR"] = runs
        os.environ.pop(cluster.ADDRESS_ENV, None)
        figures["in_process"] = _simulate(JobRegistry(max_running=1), dataset, owners)
        print("in process:", figures["in_process"], flush=True)
        token = secrets.token_hex(16)  # one for both clusters: Ray keeps a process's first token
        for cpus in (1, 2):
            with cluster.LocalCluster(cpus=cpus, token=token) as local:
                os.environ.update(local.env())
                try:
                    figures[f"ray_{cpus}_cpu"] = _simulate(JobRegistry(), dataset, owners)
                    print(f"ray, {cpus} CPU(s):", figures[f"ray_{cpus}_cpu"], flush=True)
                finally:
                    import ray

                    ray.shutdown()
                    cluster._joined.clear()
                    os.environ.pop(cluster.ADDRESS_ENV, None)
    rows = []
    for name, f in figures.items():
        rows.append((name, f"{f['total_s']} s total; queue wait median {f['wait_median_s']} s, max {f['wait_max_s']} s; "
                           f"training {f['training_median_s']} s a job; completed {f['completed']}/{SESSIONS}, "
                           f"saved {f['saved']}/{SESSIONS}, right owner {f['owners_right']}/{SESSIONS}"))  # fmt: skip
    one, two = figures["ray_1_cpu"]["total_s"], figures["ray_2_cpu"]["total_s"]
    rows.append(("2 CPUs against 1", f"{one / two:.2f}x faster"))
    rows.append(
        ("in-process against Ray, 1 CPU", f"{one / figures['in_process']['total_s']:.2f}x (the cost of a process per job)")
    )
    table(f"Load simulation: {SESSIONS} sessions submit a job at once (keras-mnist, 1 epoch, 420 images)", rows)
    save("cluster", figures)
    return figures
