"""Shared by the benchmarks: the results file and a table printer."""

from __future__ import annotations

import json
import os
import platform
import statistics
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def machine() -> dict:
    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:
        tf_version = None
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf_version,
        "platform": platform.platform(terse=True),
    }


def save(name: str, figures: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[name] = {"measured": datetime.now().isoformat(timespec="seconds"), "machine": machine(), **figures}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    width = max(len(str(r[0])) for r in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def median(values: list[float]) -> float:
    return statistics.median(values)
