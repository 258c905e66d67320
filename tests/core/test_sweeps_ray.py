"""A sweep on the Ray backend: a one-node cluster with 2 CPUs on 127.0.0.1 trains two trials at
once, each as the existing Ray job, and the driver tells the study as their epochs arrive."""

from __future__ import annotations

import importlib.util
import os

import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.jobs import cluster, warm
from cnn_core.jobs.registry import JobRegistry, RemoteJob
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps import definition as sweeps
from cnn_core.sweeps import study
from cnn_core.sweeps.definition import SweepDefinition
from cnn_core.sweeps.driver import SweepDriver
from cnn_core.sweeps.space import parse_param

pytestmark = [
    pytest.mark.xdist_group("ray"),  # one loopback Ray cluster at a time on this machine (tests/conftest.py)
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the cluster extra is not installed"),
    pytest.mark.usefixtures("on_cluster"),
]


def test_two_trials_train_at_once_on_a_two_cpu_cluster():
    assert cluster.address()
    warm.drain()  # both trials start in new workers: a warm one would finish before a cold one has imported TensorFlow
    # each trial trains 5-6 s on a fast machine: longer than the two workers' start can differ on a loaded one (1.2 s was not)
    data = DataConfig(dataset_id="digits", limit=1500, image_size=28)
    definition = SweepDefinition(
        data, ArchChoice("tutorial-minimal"), TrainConfig(epochs=80), (parse_param("learning_rate=0.003,0.01"),), search="grid"
    )
    store = RunStore()
    registry = JobRegistry(max_running=1)  # one slot on this machine: the cluster, not the slots, runs them side by side
    driver = SweepDriver(sweeps.create(store, definition, "cli"), "cli", load_dataset(data), store, registry)
    assert driver.run() == "completed", driver.message
    assert all(isinstance(job, RemoteJob) for job in registry.jobs.values()) and len(registry.jobs) == 2
    assert driver.peak == 2
    rows = study.trial_rows(driver.sweep, store)
    assert [r.state for r in rows] == ["complete", "complete"] and all(r.epochs == 80 for r in rows)
    spans = []
    for row in rows:  # the runs' training times overlap, on the cluster's workers
        status = read_json(store.root / row.run_id / "status.json")
        assert status["status"] == "completed" and status["worker"]["pid"] != os.getpid()
        spans.append((status["started"], status["updated"]))
        assert read_json(store.root / row.run_id / "config.json")["sweep"]["trial"] == row.number
    assert max(s for s, _ in spans) < min(e for _, e in spans)


def test_jobs_asking_for_no_cpu_get_one_trial_per_cpu_not_a_division_by_zero(monkeypatch):
    monkeypatch.setenv(cluster.CPUS_ENV, "0")
    definition = SweepDefinition(
        DataConfig(dataset_id="digits"), ArchChoice("tutorial-minimal"), TrainConfig(epochs=1),
        (parse_param("learning_rate=0.003,0.01"),), search="grid",
    )  # fmt: skip
    store = RunStore()
    driver = SweepDriver(sweeps.create(store, definition, "cli"), "cli", None, store, JobRegistry(max_running=1))
    assert driver._capacity() == 2  # the cluster's 2 CPUs
