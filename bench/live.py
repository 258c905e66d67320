"""Live charts: what one refresh of the Train page's live view costs the server, by run length; and a long
run's throughput with the Train page open in Chromium against the same run with no page.

A refresh is what the page does each second: a snapshot of the live record, the figure, and the
figure's JSON (what Streamlit sends). "Before" is the round-1 chart, every batch point in the figure.
"""

from __future__ import annotations

import math
import tempfile
import time

import numpy as np

from bench.common import median, save, table

SIZES = (1_000, 10_000, 100_000, 200_000)


def _record(points: int):
    from cnn_core.training.live import LiveRecord

    steps = 1563  # a CIFAR-10-sized epoch at batch 32
    record = LiveRecord(epochs=math.ceil(points / steps), steps_per_epoch=steps, batch_size=32, train_size=steps * 32)
    record.set_status("running")
    rng = np.random.default_rng(0)
    for i in range(points):
        epoch, step = divmod(i, steps)
        if step == 0:
            record.start_epoch(epoch)
            if epoch:
                record.add_epoch(epoch - 1, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.5})
        loss = 2.0 * math.exp(-i / points * 3) + 0.1 * rng.random()
        record.add_batch(step, {"loss": loss, "accuracy": 1 - loss / 2.5}, lr=0.001)
    return record


def _refresh(record) -> tuple[float, int]:
    """What the live view does each second: snapshot, diagnosis of the recent batches, figure, JSON."""
    from cnn_core.training import curves
    from cnn_core.training.diagnosis import RECENT, Context, diagnose

    start = time.perf_counter()
    snap = record.snapshot()
    findings = diagnose(record.history(), record.points_since(max(0, snap.points - RECENT)), Context(10))
    marks = [{"from": f.start, "to": f.end or f.start, "label": f.title} for f in findings if f.start is not None]
    payload = curves.training_curves(snap.series, snap.history, marks=marks).to_json()
    return time.perf_counter() - start, len(payload)


def _round_one(record) -> tuple[float, int]:
    """The round-1 figure: every batch point, raw and smoothed, in both panels."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    start = time.perf_counter()
    points = record.points_since(0)
    fig = make_subplots(rows=1, cols=2)
    x = [p["x"] for p in points]
    for col, key in ((1, "loss"), (2, "accuracy")):
        raw = [p[key] for p in points]
        smooth, ema = [], 0.0
        for n, v in enumerate(raw, 1):
            ema = 0.9 * ema + 0.1 * v
            smooth.append(ema / (1 - 0.9**n))
        fig.add_trace(go.Scatter(x=x, y=raw, mode="lines"), row=1, col=col)
        fig.add_trace(go.Scatter(x=x, y=smooth, mode="lines"), row=1, col=col)
    payload = fig.to_json()
    return time.perf_counter() - start, len(payload)


def refresh_costs() -> list[dict]:
    rows = []
    for size in SIZES:
        record = _record(size)
        _refresh(record)  # first call imports and warms Plotly
        now = [_refresh(record) for _ in range(5)]
        before = [_round_one(record) for _ in range(1 if size > 10_000 else 3)]
        start = time.perf_counter()
        for _ in range(100):
            record.snapshot()
        rows.append({
            "points": size, "refresh_ms": round(1000 * median([t for t, _ in now]), 1), "bytes": now[0][1],
            "snapshot_ms": round(1000 * (time.perf_counter() - start) / 100, 2),
            "before_ms": round(1000 * median([t for t, _ in before]), 1), "before_bytes": before[0][1],
        })  # fmt: skip
    return rows


def run() -> dict:
    rows = refresh_costs()
    figures = {"refresh": rows}
    lines = [
        (f"{r['points']:>7,} batch points",
         f"{r['refresh_ms']:>6.1f} ms, {r['bytes'] / 1024:>6.0f} KB per refresh (snapshot {r['snapshot_ms']:.2f} ms); "
         f"round 1: {r['before_ms']:,.0f} ms, {r['before_bytes'] / 2**20:,.1f} MB")
        for r in rows
    ]  # fmt: skip
    table("Live chart, one refresh on the server (goal at 200,000 points: <= 50 ms and <= 150 KB)", lines)
    figures |= browser_throughput()
    save("live", figures)
    return figures


def browser_throughput() -> dict:
    """A long run (over 10,000 batches) on the app's server, with the Train page open in Chromium for half
    its stretches and no page for the others (see bench/browser.py)."""
    from bench.browser import SEGMENT, page_open_versus_none

    result = page_open_versus_none()
    figures = {
        "long_run_points": result["points"], "with_page_images_per_s": round(result["with_page"]),
        "without_page_images_per_s": round(result["without"]), "page_ratio": round(median(result["ratios"]), 3),
        "page_ratios": [round(r, 3) for r in result["ratios"]],
    }  # fmt: skip
    table(
        f"A long run ({result['points']:,} batches) with the Train page open in Chromium vs no page "
        f"(stretches of {SEGMENT} epochs, ABBA)",
        [
            ("with the page open (redrawn every 2 s)", f"{figures['with_page_images_per_s']:,} images/s"),
            ("no page", f"{figures['without_page_images_per_s']:,} images/s"),
            ("ratio, median of pairs (goal >= 0.95)", f"{figures['page_ratio']}  (pairs {figures['page_ratios']})"),
        ],
    )
    return figures


if __name__ == "__main__":
    tempfile.tempdir = tempfile.mkdtemp()
    run()
