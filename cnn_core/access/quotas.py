"""The class limits, applied to one learner's submit, resume or import (classroom mode only).

`classroom.limits()` says what a learner may use: runs training at once, runs waiting, saved runs,
disk for runs and uploads, and minutes a run may train. The teacher, the command line and
personal mode have no limits. A refusal names the limit and its value; nothing saved is deleted.
"""

from __future__ import annotations

from pathlib import Path

from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore, owner_tag, read_json

MB = 2**20


def limited(owner: str) -> classroom.Limits | None:
    """The limits that apply to the browser `owner`, or None when none do."""
    if not classroom.enabled() or owner in ("", "cli") or classroom.is_teacher(owner):
        return None
    return classroom.limits()


def owned_runs(store: RunStore, tag: str) -> list[Path]:
    """The run folders whose config.json names this owner tag (only config.json is read)."""
    if not tag or not store.root.is_dir():
        return []
    found = []
    for path in store.root.iterdir():
        if path.is_dir() and not path.name.startswith("."):
            try:
                if str(read_json(path / "config.json").get("owner", "")) == tag:
                    found.append(path)
            except StudioError:
                continue
    return found


def folder_bytes(folder: Path) -> int:
    """The size of every file under `folder` (0 when it does not exist)."""
    total = 0
    for path in Path(folder).rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # removed while we counted
            continue
    return total


def disk_used(store: RunStore, owner: str) -> int:
    """Bytes of the learner's run folders and uploads."""
    runs = sum(folder_bytes(p) for p in owned_runs(store, owner_tag(owner)))
    return runs + folder_bytes(classroom.upload_dir(owner))


def check(owner: str, active: list, store: RunStore, new_run: bool) -> float | None:
    """Refuse a submit (`new_run`) or a resume over a class limit; else the seconds the run may train.

    Args:
        active: the learner's queued and running jobs.

    Returns:
        The run time limit in seconds, or None when no limits apply.
    """
    limits = limited(owner)
    if limits is None:
        return None
    queued = sum(j.status == "queued" for j in active)
    if len(active) >= limits.active_runs + limits.queued_runs:
        if limits.queued_runs and len(active) - queued >= limits.active_runs:
            raise StudioError(
                f"you already have {_runs(queued)} waiting (the class limit is {limits.queued_runs}): wait or cancel one"
            )
        raise StudioError(
            f"you already have {_runs(len(active))} training or waiting (the class limit is {limits.active_runs} training "
            f"and {limits.queued_runs} waiting): wait for one to finish, or cancel one"
        )
    if new_run:
        saved = len(owned_runs(store, owner_tag(owner)))
        if saved >= limits.saved_runs:
            raise StudioError(
                f"you already have {saved} saved runs (the class limit is {limits.saved_runs}): delete one on the Runs page first"
            )
    used = disk_used(store, owner)
    if used >= limits.disk_mb * MB:
        raise StudioError(
            f"your runs and uploads take {used / MB:,.0f} MB (the class limit is {limits.disk_mb} MB): "
            "delete a run or an upload first"
        )
    return limits.run_minutes * 60


def check_import(owner: str, store: RunStore, incoming: int = 0) -> int | None:
    """Refuse an import (a run zip or a model) over the saved-runs or disk limit, as a submit is refused.

    Args:
        incoming: the bytes the upload itself brings (it is checked against the room left).

    Returns:
        The bytes this learner may still add (the cap for extracting the import), or None when no
        limits apply.
    """
    limits = limited(owner)
    if limits is None:
        return None
    saved = len(owned_runs(store, owner_tag(owner)))
    if saved >= limits.saved_runs:
        raise StudioError(
            f"you already have {saved} saved runs (the class limit is {limits.saved_runs}): delete one on the Runs page first"
        )
    used = disk_used(store, owner)
    room = limits.disk_mb * MB - used
    if room <= 0 or incoming > room:
        raise StudioError(
            f"your runs and uploads take {used / MB:,.0f} MB and this import {incoming / MB:,.1f} MB "
            f"(the class limit is {limits.disk_mb} MB): delete a run or an upload first"
        )
    return room


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"
