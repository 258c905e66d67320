"""The memory budget of dataset loads, and loads shared between sessions and cancelled when nobody waits."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from cnn_core.data import budget, loads
from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.settings.config import DataConfig
from tests.conftest import ROOT
from tests.hostile_case import BUDGET_MB, hostile_case


def test_the_default_budget_is_a_quarter_of_the_machines_memory(monkeypatch):
    monkeypatch.delenv(budget.MEMORY_ENV, raising=False)
    total = budget.machine_memory_bytes()
    assert total > 2**28 and budget.memory_budget_bytes() == int(total * 0.25)
    monkeypatch.setenv(budget.MEMORY_ENV, "1500")
    assert budget.memory_budget_bytes() == 1500 * 2**20
    monkeypatch.setenv(budget.MEMORY_ENV, "lots")
    with pytest.raises(StudioError, match="not a number of megabytes"):
        budget.memory_budget_bytes()


@pytest.mark.parametrize(
    "config, images, shape",
    [
        (DataConfig("shapes", limit=1_000_000, image_size=512), 1_000_000, (512, 512, 3)),
        (DataConfig("shapes"), 2000, (32, 32, 3)),
        (DataConfig("fashion-mnist", image_size=512), 70_000, (512, 512, 1)),
        (DataConfig("mnist", limit=1000), 1200, (28, 28, 1)),
        (DataConfig("cifar10"), 60_000, (32, 32, 3)),
        (DataConfig("mnist-5k", limit=500, image_size=64), 500, (64, 64, 1)),
        (DataConfig("digits"), 1797, (8, 8, 1)),
    ],
    ids=["shapes-link", "shapes", "fashion-512", "mnist-limit", "cifar", "mnist-5k", "digits"],
)
def test_the_estimate_comes_from_the_config_alone(config, images, shape):
    found = budget.estimate(config)
    assert (found.images, found.shape) == (images, shape)
    assert found.peak_bytes >= budget.COPIES * images * int(np.prod(shape))


@pytest.mark.parametrize(
    "config, size",
    [(DataConfig("shapes", limit=1_000_000, image_size=512), "1.4 TB"), (DataConfig("fashion-mnist", image_size=512), "34 GB")],
)
@pytest.mark.parametrize("budget_mb, limit", [(1500, "1.5 GB"), (BUDGET_MB, f"{BUDGET_MB} MB")])
def test_the_issues_links_are_refused_before_anything_is_read(config, size, budget_mb, limit, tmp_path_factory):
    """A hostile case (tests/hostile_case.py) at the README's budget and at the small budget of every
    hostile case: one line, nothing written, resident memory under the budget plus the margin."""
    with hostile_case(tmp_path_factory.getbasetemp(), budget_mb=budget_mb) as case:
        started = time.perf_counter()
        with pytest.raises(StudioError) as refusal:
            load_dataset(config)
        message = case.says(str(refusal.value))
    assert "\n" not in message and f"limit is {limit}" in message and "CNN_STUDIO_MEMORY_BUDGET_MB" in message
    assert f"about {size} of memory" in message and time.perf_counter() - started < 1


def test_folders_and_zips_are_not_refused_they_stream():
    assert budget.estimate(DataConfig("folder:/anywhere", image_size=512)) is None


PEAK = """
import sys, tracemalloc
from cnn_core.settings.config import DataConfig
from cnn_core.data.datasets import load_dataset
from cnn_core.data import budget
config = DataConfig("shapes", limit=int(sys.argv[1]), image_size=int(sys.argv[2]))
tracemalloc.start()
ds = load_dataset(config)
print(tracemalloc.get_traced_memory()[1], budget.estimate(config).peak_bytes, budget.estimate(config).final_bytes)
"""


@pytest.mark.parametrize("count, side", [(3000, 96), (500, 256)])
def test_the_estimate_covers_the_measured_peak_of_a_real_load(count, side):
    """COPIES is measured here (numpy's buffers are traced): the peak of a load stays under the
    estimate, and above one copy of the pixels."""
    command = [sys.executable, "-c", PEAK, str(count), str(side)]
    measured, estimated, final = map(
        int, subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    )
    assert final < measured <= estimated, (measured, estimated, final)


def test_loads_running_at_once_share_the_budget(monkeypatch):
    monkeypatch.setenv(budget.MEMORY_ENV, "100")
    refusal = "already loading 80 MB of data; the second .* limit of 100 MB"
    with (
        budget.reserve(80 * 2**20, "the first"),
        pytest.raises(StudioError, match=refusal),
        budget.reserve(30 * 2**20, "the second"),
    ):
        pass
    with budget.reserve(30 * 2**20, "the second"):
        pass


def _slow_load(calls: list, started: threading.Event, steps: int = 200):
    def load(report):
        calls.append(1)
        started.set()
        for _ in range(steps):
            loads.checkpoint()
            time.sleep(0.01)
        return np.zeros(3)

    return load


def test_two_callers_of_the_same_key_share_one_load():
    shared, calls, started = loads.SharedLoads(tick=0.01), [], threading.Event()
    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.get("k", _slow_load(calls, started, 30)))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(results) == 2 and results[0] is results[1]
    assert shared.running() == []


class Gone(Exception):
    pass


def test_a_load_nobody_waits_for_is_cancelled_and_a_later_caller_starts_afresh():
    shared, calls, started = loads.SharedLoads(grace=0.05, tick=0.01), [], threading.Event()
    leave = threading.Event()

    def on_wait(progress):
        if leave.is_set():
            raise Gone  # what Streamlit's StopException does to a closed page's script

    caller = threading.Thread(target=lambda: pytest.raises(Gone, shared.get, "k", _slow_load(calls, started), on_wait))
    caller.start()
    assert started.wait(5)
    leave.set()
    caller.join(5)
    deadline = time.monotonic() + 5
    while shared.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shared.running() == []  # the loader stopped at a checkpoint, long before its 200 steps
    assert shared.get("k", lambda report: "again") == "again" and len(calls) == 1


def test_a_caller_leaving_does_not_stop_a_load_another_waits_for():
    shared, calls, started = loads.SharedLoads(grace=0.0, tick=0.01), [], threading.Event()
    leave = threading.Event()

    def on_wait(progress):
        if leave.is_set():
            raise Gone

    load = _slow_load(calls, started, 50)
    first = threading.Thread(target=lambda: pytest.raises(Gone, shared.get, "k", load, on_wait))
    first.start()
    assert started.wait(5)
    results = []
    second = threading.Thread(target=lambda: results.append(shared.get("k", load)))
    second.start()
    time.sleep(0.05)
    leave.set()
    first.join(5)
    second.join(10)
    assert len(calls) == 1 and results and results[0].shape == (3,)


def test_errors_reach_every_caller_and_are_not_kept():
    shared = loads.SharedLoads(tick=0.01)

    def refuse(report):
        raise StudioError("too big")

    with pytest.raises(StudioError, match="too big"):
        shared.get("k", refuse)
    assert shared.get("k", lambda report: 7) == 7


def test_a_cancelled_shapes_load_stops_between_chunks():
    """The real loader: a big generated dataset stops within a chunk once its only caller leaves."""
    shared, leave = loads.SharedLoads(grace=0.0, tick=0.01), threading.Event()
    progress_seen = []

    def on_wait(progress):
        progress_seen.append(progress.done if progress else 0)
        if progress is not None and progress.done > 0:
            leave.set()
            raise Gone

    config = DataConfig("shapes", limit=200_000, image_size=16)
    started = time.perf_counter()
    with pytest.raises(Gone):
        shared.get("shapes", lambda report: load_dataset(config, report), on_wait)
    deadline = time.monotonic() + 10
    while shared.running() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert shared.running() == [] and time.perf_counter() - started < 10 and max(progress_seen) < 200_000
