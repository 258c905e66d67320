"""The live record and its decimated series, fed with fake Keras logs (running averages, as Keras reports them)."""

import math
import threading

import numpy as np
import pytest

from cnn_core.training.decimate import BUCKETS, Decimator, decimate
from cnn_core.training.live import LiveRecord


def running_averages(values, sizes):
    total, seen, out = 0.0, 0, []
    for v, n in zip(values, sizes):
        total += v * n
        seen += n
        out.append(total / seen)
    return out


def test_per_batch_values_are_recovered_from_running_averages():
    record = LiveRecord(epochs=2, steps_per_epoch=3, batch_size=4, train_size=10)  # batches of 4, 4, 2
    record.set_status("running")
    for epoch, losses in enumerate([[2.0, 1.0, 0.5], [0.4, 0.3, 0.9]]):
        record.start_epoch(epoch)
        for step, avg in enumerate(running_averages(losses, [4, 4, 2])):
            record.add_batch(step, {"loss": avg, "accuracy": 0.5}, lr=0.01)
    points = record.points_since(0)
    assert [round(p["loss"], 6) for p in points] == [2.0, 1.0, 0.5, 0.4, 0.3, 0.9]
    assert [round(p["x"], 3) for p in points] == [0.333, 0.667, 1.0, 1.333, 1.667, 2.0]
    assert record.epoch_means(0)["loss"] == pytest.approx((2.0 * 4 + 1.0 * 4 + 0.5 * 2) / 10)
    assert record.points_since(4) == points[4:]  # only what is new to the caller


def test_an_epoch_resumed_midway_recovers_its_batches_from_its_own_running_averages():
    record = LiveRecord(epochs=1, steps_per_epoch=4, batch_size=2, train_size=8)
    record.set_status("running")
    record.start_epoch(0)
    record.add_batch(0, {"loss": 3.0})  # before the pause
    record.start_epoch(0, first_step=1)  # Keras restarts its averages at the resume point
    for step, avg in zip((1, 2, 3), running_averages([2.0, 1.0, 0.5], [2, 2, 2])):
        record.add_batch(step, {"loss": avg})
    assert [round(p["loss"], 6) for p in record.points_since(0)] == [3.0, 2.0, 1.0, 0.5]
    assert record.epoch_complete and record.epoch_means(0)["loss"] == pytest.approx(1.625)


def test_progress_eta_and_throughput():
    record = LiveRecord(epochs=2, steps_per_epoch=5, batch_size=10, train_size=50)
    assert record.snapshot().status == "queued" and record.snapshot().eta_seconds is None
    record.set_status("running")
    record.start_epoch(0)
    for step in range(5):
        record.add_batch(step, {"loss": 1.0})
    record.add_epoch(0, {"loss": 1.0, "val_loss": 1.2})
    snap = record.snapshot()
    assert snap.fraction_done == pytest.approx(0.5)
    assert snap.images_per_second > 0 and snap.eta_seconds is not None
    assert snap.history == [{"epoch": 1, "loss": 1.0, "val_loss": 1.2, "seconds": snap.history[0]["seconds"]}]
    assert 0 <= snap.history[0]["seconds"] < 5
    record.set_status("completed")
    assert record.snapshot().eta_seconds is None


def test_a_restored_record_continues_the_runs_time_and_curves():
    record = LiveRecord(epochs=4, steps_per_epoch=2, batch_size=1, train_size=2)
    earlier = [{"epoch": 0, "step": s, "x": (s + 1) / 2, "loss": 1.0} for s in range(2)]
    record.restore(earlier, [{"epoch": 1, "loss": 1.0, "seconds": 30.0}], seconds=30.0)
    record.set_status("running")
    record.start_epoch(1)
    record.add_batch(0, {"loss": 0.5})
    row = record.add_epoch(1, {"loss": 0.5})
    assert row["seconds"] >= 30.0 and record.snapshot().points == 3 and record.epochs_recorded == 2


def test_concurrent_writer_and_readers_see_consistent_snapshots():
    record = LiveRecord(epochs=1, steps_per_epoch=2000, batch_size=1, train_size=2000)
    record.set_status("running")

    def write():
        for step in range(2000):
            record.add_batch(step, {"loss": 1.0})

    writer = threading.Thread(target=write)
    writer.start()
    counts = []
    while writer.is_alive():
        snap = record.snapshot()
        assert snap.points == snap.step and len(snap.series["loss"]) <= 2 * BUCKETS
        counts.append(snap.points)
    writer.join()
    assert counts == sorted(counts) and record.snapshot().points == 2000


def test_decimation_is_bounded_and_keeps_spikes_and_the_trend():
    rng = np.random.default_rng(0)
    values = 2.0 * np.exp(-np.arange(200_000) / 40_000) + rng.normal(0, 0.05, 200_000)
    values[123_456] = 50.0  # one spike
    folded = Decimator()
    for i, v in enumerate(values):
        folded.add(i / 1000, float(v))
    s = folded.series()
    assert BUCKETS <= len(s) <= 2 * BUCKETS
    assert s.high.max() == pytest.approx(50.0) and s.low.min() == pytest.approx(values.min(), abs=1e-5)
    assert s.x[-1] == pytest.approx(199.999) and np.all(np.diff(s.x) > 0)
    assert s.smooth[-1] == pytest.approx(2.0 * math.exp(-5), abs=0.05)


def test_smoothing_is_bias_corrected_and_skips_nan():
    s = decimate([{"x": 1, "loss": 1.0}, {"x": 2, "loss": 1.0}, {"x": 3, "loss": 1.0}], "loss")
    assert s.smooth.tolist() == pytest.approx([1.0, 1.0, 1.0])
    s = decimate([{"x": 1, "loss": 1.0}, {"x": 2, "loss": float("nan")}, {"x": 3, "loss": 3.0}], "loss")
    assert s.smooth[0] == 1.0 and s.smooth[1] == 1.0 and 1.0 < s.smooth[2] < 3.0 and math.isnan(s.low[1])
