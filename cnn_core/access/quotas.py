"""The class limits, applied to one learner's submit, resume or import (classroom mode only).

`classroom.limits()` says what a learner may use: runs training at once, runs waiting, saved runs,
disk for runs and uploads, and minutes a run may train. The teacher, the command line and
personal mode have no limits. A refusal names the limit and its value; nothing saved is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Load:
    """A learner's runs as the job queue sees them (see `JobRegistry.load`)."""

    training: int  # their turn has come: counted against `active_runs`
    waiting: int  # still waiting for a turn: counted against `queued_runs`
    waits: bool  # would one more run wait too (the learner is at their limit, or no slot is free)?


def check(owner: str, load: Load, store: RunStore, new_run: bool) -> float | None:
    """Refuse a submit (`new_run`) or a resume over a class limit; else the seconds the run may train.

    A run that would start at once is never refused for the queue; one that would wait is refused
    when the learner already has as many waiting as the class allows.

    Returns:
        The run time limit in seconds, or None when no limits apply.
    """
    limits = limited(owner)
    if limits is None:
        return None
    if load.waits and load.waiting >= limits.queued_runs:
        raise StudioError(_queue_refusal(load, limits))
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


def _queue_refusal(load: Load, limits: classroom.Limits) -> str:
    """Why one more run may not wait, naming the limit that refuses it."""
    queued = f"at most {_runs(limits.queued_runs, 'queued run')}" if limits.queued_runs else "no queued runs"
    if load.waiting:
        one = _it(load.waiting)
        return f"you already have {_runs(load.waiting)} waiting, and the class allows {queued}: wait for {one} to start, or cancel {one}"
    if load.training >= limits.active_runs:
        one = _it(load.training)
        return (
            f"you already have {_runs(load.training)} training, and the class allows at most "
            f"{_runs(limits.active_runs, 'active run')} and {queued}: wait for {one} to finish, or stop {one}"
        )
    return f"every training slot is busy, and the class allows {queued}: try again when a run finishes"


def _it(count: int) -> str:
    return "it" if count == 1 else "one"


def _runs(count: int, noun: str = "run") -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"
