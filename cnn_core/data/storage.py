"""What uploads take on disk, and the sweep that deletes what no run uses any more.

Uploads live under `<data>/uploads/` (in classroom mode, one folder per browser, `classroom.upload_dir`);
an uploaded zip is extracted beside itself, so one upload is one folder. A learner's uploads count
towards the class disk limit (`classroom.Limits.disk_mb`) together with their runs. Upload and extraction folders that no
run's `config.json` points into are deleted once untouched for `CNN_STUDIO_UPLOAD_RETENTION_HOURS`
(24 by default), and so are the temporary files a killed server left in `runs/` and the private folders
of Ray jobs whose worker was killed on this machine (`jobs.worker.Trainer` removes its own on `close`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from cnn_core import paths
from cnn_core.access import classroom, quotas
from cnn_core.data import budget, versions
from cnn_core.data.archives import IngestLimits
from cnn_core.errors import StudioError
from cnn_core.runs.schema import valid_run_id
from cnn_core.runs.store import RunStore

RETENTION_ENV = "CNN_STUDIO_UPLOAD_RETENTION_HOURS"
DEFAULT_RETENTION_HOURS = 24.0
TEMP_RETENTION_S = 3600.0  # a run's temporary file older than this belongs to no live write
SWEEP_EVERY_S = 3600.0
_RUN_TEMP = re.compile(r"^\..*\.tmp$")
# `tempfile.mkdtemp(prefix="cnn-studio-job-")` in jobs/worker.py: the prefix and mkdtemp's 8 random characters
_JOB_FOLDER = re.compile(r"^cnn-studio-job-[a-z0-9_]{8}$")


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (links not followed)."""
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def upload_usage(owner: str) -> int:
    """Bytes this browser's uploads take (in personal mode: everyone's, in the shared folder)."""
    return folder_bytes(classroom.upload_dir(owner))


def upload_room(owner: str) -> int | None:
    """Bytes this browser may still upload in classroom mode (its runs and uploads count together,
    as `quotas.disk_used` counts them); None when it is not limited."""
    if quotas.limited(owner) is None:
        return None
    return max(0, classroom.limits().disk_mb * 2**20 - quotas.disk_used(RunStore(), owner))


def check_upload(owner: str, incoming: int) -> None:
    """Refuse an upload of `incoming` bytes that would pass this learner's disk limit (runs and uploads)."""
    room = upload_room(owner)
    if room is not None and incoming > room:
        used, limit = quotas.disk_used(RunStore(), owner), classroom.limits().disk_mb * 2**20
        raise StudioError(
            f"this upload ({budget.size_text(incoming)}) would bring your uploads to {budget.size_text(used + incoming)}; "
            f"the class limit is {budget.size_text(limit)} for your runs and uploads together: delete runs or ask the teacher"
        )


def extraction_place(zip_path: Path) -> tuple[Path, IngestLimits]:
    """Where an uploaded zip is extracted (beside itself) and with what cap; other zips go to `<data>/datasets`.

    Inside a learner's upload folder, the cap is what is left of their disk limit.
    """
    uploads, limits = (paths.data_dir() / "uploads").resolve(), IngestLimits()
    resolved = zip_path.resolve()
    if not resolved.is_relative_to(uploads):
        return paths.data_dir() / "datasets", limits
    if classroom.enabled():
        owner_folder = uploads / resolved.relative_to(uploads).parts[0]
        if owner_folder != resolved.parent:
            runs = quotas.owned_runs(RunStore(), owner_folder.name)  # the folder is named by the owner tag
            used = folder_bytes(owner_folder) + sum(folder_bytes(r) for r in runs)
            left = max(0, classroom.limits().disk_mb * 2**20 - used)
            limits = replace(limits, max_total_bytes=min(limits.max_total_bytes, left))
    return resolved.parent, limits


def retention_seconds() -> float:
    raw = os.environ.get(RETENTION_ENV, "").strip()
    try:
        return float(raw) * 3600 if raw else DEFAULT_RETENTION_HOURS * 3600
    except ValueError:
        raise StudioError(f"{RETENTION_ENV}={raw!r} is not a number of hours") from None


def _last_touched(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            try:
                newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                pass
    return newest


def datasets_in_use(runs: Path) -> list[Path]:
    """The folders and zips that saved runs were trained on (their config.json's dataset id)."""
    used = []
    for config in runs.glob("*/config.json"):
        try:
            dataset_id = json.loads(config.read_text())["data"]["dataset_id"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged run protects nothing; the run listing reports it
        try:
            kind, _, location = versions.split_id(str(dataset_id))[0].partition(":")  # a version uses its base's files
        except StudioError:
            continue
        if kind in ("folder", "zip") and location:
            used.append(Path(location).expanduser().resolve())
    return used


def _upload_folders(data: Path) -> list[Path]:
    """Each upload's own folder: under `uploads/` (or `uploads/<owner>/`), extractions and imports."""
    owners = {m.tag for m in classroom.members()}
    found = []
    for entry in sorted((data / "uploads").glob("*")):
        if entry.is_dir() and entry.name in owners:
            found += [e for e in sorted(entry.glob("*")) if e.is_dir()]
        elif entry.is_dir():
            found.append(entry)
    return found + [e for e in sorted((data / "datasets").glob("*")) if e.is_dir()] + sorted((data / "imports").glob("*"))


JOB_FOLDER_FLOOR = 24 * 3600.0  # a Ray job's folder is kept at least a day after its last write, whatever the
# upload retention: an epoch longer than a short retention must not lose its folder mid-run


def _is_job_folder(entry: Path) -> bool:
    """Named as `Trainer` names its folder, owned by this user, a real folder (not a link) holding only run folders."""
    info = entry.lstat()
    if not (_JOB_FOLDER.match(entry.name) and stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()):
        return False
    with os.scandir(entry) as children:
        return all(c.is_dir(follow_symlinks=False) and valid_run_id(c.name) for c in children)


def stale_job_folders(temp: Path, now: float, keep_for: float) -> list[Path]:
    """The Ray jobs' private folders under `temp` that a killed worker left: ours (`_is_job_folder`) and
    untouched for `keep_for` seconds (a live job writes into its run folder every epoch)."""
    found = []
    for entry in sorted(temp.glob("cnn-studio-job-*")):
        try:
            if _is_job_folder(entry) and now - _last_touched(entry) >= keep_for:
                found.append(entry)
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def sweep(now: float | None = None, data: Path | None = None, runs: Path | None = None, temp: Path | None = None) -> list[Path]:
    """Delete upload and extraction folders no run uses after the retention period, stale run temp
    files, and the private folders killed Ray workers left in the temporary folder.

    Args:
        data, runs, temp: the folders to sweep; by default the data and runs folders the environment
            names now, and `tempfile.gettempdir()`.

    Returns what was deleted.
    """
    now, keep_for = now or time.time(), retention_seconds()
    data, runs = data or paths.data_dir(), runs or paths.runs_dir()
    used = datasets_in_use(runs)
    deleted = []
    for folder in _upload_folders(data):
        if any(u == folder or u.is_relative_to(folder.resolve()) for u in used) or now - _last_touched(folder) < keep_for:
            continue
        shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
        deleted.append(folder)
    for temp_file in [*runs.glob(".import-*"), *runs.glob("*/.*.tmp"), *runs.glob("*/checkpoints/.*.tmp")]:
        if (temp_file.is_dir() or _RUN_TEMP.match(temp_file.name)) and now - temp_file.stat().st_mtime >= TEMP_RETENTION_S:
            shutil.rmtree(temp_file, ignore_errors=True) if temp_file.is_dir() else temp_file.unlink(missing_ok=True)
            deleted.append(temp_file)
    for folder in stale_job_folders(Path(temp or tempfile.gettempdir()), now, max(keep_for, JOB_FOLDER_FLOOR)):
        shutil.rmtree(folder, ignore_errors=True)
        deleted.append(folder)
    return deleted


_sweeper: threading.Thread | None = None
_starting = threading.Lock()


def start_sweeper(every: float = SWEEP_EVERY_S) -> bool:
    """Sweep now and then every `every` seconds, in a daemon thread: once per process, however often it
    is called (app.py calls it on every run, `cnn-studio serve` before the server starts).

    The folders are the ones the environment names when it starts: a server's do not change.
    Returns True when this call started the thread.
    """
    global _sweeper
    with _starting:  # two sessions' first runs may call it at once
        if _sweeper is not None:
            return False
        folders = {"data": paths.data_dir(), "runs": paths.runs_dir(), "temp": Path(tempfile.gettempdir())}

        def loop() -> None:
            while True:
                try:
                    sweep(**folders)
                except (OSError, StudioError):
                    pass  # a sweep that fails tries again next time; it never takes the server down
                time.sleep(every)

        _sweeper = threading.Thread(target=loop, name="upload sweeper", daemon=True)
        _sweeper.start()
        return True
