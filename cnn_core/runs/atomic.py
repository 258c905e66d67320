"""Files written whole or not at all, and one writer at a time for a run's small JSON files.

`atomic_write` writes to a temporary name unique to the process, the thread and the call, then
renames: a reader, a crash or a second writer never sees half a file. `locked(folder)` makes a
read-modify-write safe (status.json, config.json): a lock per folder for this process's threads,
and an `fcntl.flock` on the folder's hidden `.lock` file for other processes.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path

from cnn_core.errors import StudioError

try:
    import fcntl
except ImportError:  # not on Windows: the thread lock alone guards this process's writers
    fcntl = None

LOCK_NAME = ".lock"  # hidden: archives, zips and the Ray mirror leave dotfiles out
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write a file so that readers see either the old or the new content, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, payload: dict) -> None:
    """Write a JSON object atomically."""
    atomic_write(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def read_json(path: Path) -> dict:
    """A JSON object from a run file; `StudioError` naming the file when it is missing or damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudioError(f"{path.name} is missing or damaged ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise StudioError(f"{path.name} is damaged (not a JSON object)")
    return data


def _thread_lock(folder: Path) -> threading.Lock:
    key = os.path.abspath(folder)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


@contextmanager
def locked(folder: Path):
    """Hold the run folder's lock: one writer at a time, across threads and processes."""
    with _thread_lock(folder):
        if fcntl is None:
            yield
            return
        with open(Path(folder) / LOCK_NAME, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
