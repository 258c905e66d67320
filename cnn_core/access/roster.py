"""The classroom's own files and the limits for each learner.

`<runs dir>/.classroom/` holds the roster (members.json) and the teacher's limits (limits.json),
so a restarted server still knows its class. `cnn_core.access.classroom` re-exports what is public here.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, fields
from pathlib import Path

from cnn_core import paths

lock = threading.Lock()  # read-modify-write of the class files, within this process


def folder() -> Path:
    return paths.runs_dir() / ".classroom"


def read(name: str) -> dict:
    """A class file's JSON object ({} when missing or damaged)."""
    try:
        data = json.loads((folder() / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write(name: str, payload: dict) -> None:
    """Replace a class file atomically."""
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target / name)


@dataclass(frozen=True)
class Limits:
    """What one learner may use in classroom mode (the teacher is not limited)."""

    active_runs: int = 1  # training at once
    queued_runs: int = 2  # waiting for a slot
    saved_runs: int = 20
    disk_mb: int = 500  # runs and uploads together
    run_minutes: int | float = 30  # a longer run is stopped and saved (a fraction is allowed)

    ENV = {
        "active_runs": "CNN_STUDIO_LEARNER_ACTIVE_RUNS",
        "queued_runs": "CNN_STUDIO_LEARNER_QUEUED_RUNS",
        "saved_runs": "CNN_STUDIO_LEARNER_SAVED_RUNS",
        "disk_mb": "CNN_STUDIO_LEARNER_DISK_MB",
        "run_minutes": "CNN_STUDIO_LEARNER_RUN_MINUTES",
    }
    LABELS = {
        "active_runs": "runs training at once",
        "queued_runs": "runs waiting in the queue",
        "saved_runs": "saved runs",
        "disk_mb": "disk for runs and uploads (MB)",
        "run_minutes": "minutes a run may train",
    }


def limits() -> Limits:
    """The class limits: the defaults, then the environment, then what the teacher set on the Teacher page."""
    return _limits(read("limits.json"))


def env_limits() -> Limits:
    """The class limits the server started with: the defaults, then the environment."""
    return _limits({})


def reset_limits() -> None:
    """Forget the teacher's limits: the environment's (or the defaults) apply again."""
    with lock:
        (folder() / "limits.json").unlink(missing_ok=True)


def _limits(saved: dict) -> Limits:
    values = {}
    for f in fields(Limits):
        raw = saved.get(f.name, os.environ.get(Limits.ENV[f.name], f.default))
        try:
            values[f.name] = _minutes(raw) if f.name == "run_minutes" else max(0 if f.name == "queued_runs" else 1, int(raw))
        except (TypeError, ValueError):
            values[f.name] = f.default
    return Limits(**values)


def _minutes(raw) -> int | float:
    """Run minutes may be a fraction (0.05, three seconds, in tests); whole numbers stay ints."""
    minutes = max(0.05, float(raw))
    return int(minutes) if minutes == int(minutes) else minutes


def set_limits(new: Limits) -> None:
    """Keep the teacher's limits (they apply from the next submit on; nothing saved is deleted)."""
    with lock:
        write(
            "limits.json", {f.name: (_minutes if f.name == "run_minutes" else int)(getattr(new, f.name)) for f in fields(Limits)}
        )
