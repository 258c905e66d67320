"""The live record, fed with fake Keras logs (running averages, as Keras reports them)."""

import math
import threading

import pytest

from cnn_core.live import LiveRecord, smooth


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
            record.add_batch(step, {"loss": avg, "accuracy": 0.5})
    points = record.snapshot().batches
    assert [round(p["loss"], 6) for p in points] == [2.0, 1.0, 0.5, 0.4, 0.3, 0.9]
    assert [round(p["x"], 3) for p in points] == [0.333, 0.667, 1.0, 1.333, 1.667, 2.0]


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


def test_concurrent_writer_and_readers_see_consistent_snapshots():
    record = LiveRecord(epochs=1, steps_per_epoch=2000, batch_size=1, train_size=2000)
    record.set_status("running")

    def write():
        for step in range(2000):
            record.add_batch(step, {"loss": 1.0})

    writer = threading.Thread(target=write)
    writer.start()
    lengths = []
    while writer.is_alive():
        snap = record.snapshot()
        assert len(snap.batches) == snap.step
        lengths.append(len(snap.batches))
    writer.join()
    assert lengths == sorted(lengths) and len(record.snapshot().batches) == 2000


def test_smoothing_is_bias_corrected_and_skips_nan():
    assert smooth([1.0, 1.0, 1.0]) == pytest.approx([1.0, 1.0, 1.0])
    out = smooth([1.0, float("nan"), 3.0], weight=0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and 1.0 < out[2] < 3.0
