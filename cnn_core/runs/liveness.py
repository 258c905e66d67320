"""Who is still training a run: the process that wrote its status, told apart from a new one with its pid.

A run's status.json records the process that trains it: its pid, the time that process started
(field 22 of `/proc/<pid>/stat`, in clock ticks since boot) and the machine's boot id. A server
restarted in a container often gets the same pid as the one that died; with the start time, the
new process is not mistaken for the old one, and the old run reads as interrupted. Where `/proc`
is absent, the pid alone is all there is.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


def start_time(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot; None without `/proc` or without the process."""
    try:
        raw = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    try:
        return int(fields[19])  # field 22; the list starts at field 3
    except (IndexError, ValueError):
        return None


@cache
def boot_id() -> str:
    """This boot of the machine ("" without `/proc`): a start time counts from it."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def identity() -> dict:
    """What status.json records of the process writing it."""
    pid = os.getpid()
    found = {"pid": pid}
    started = start_time(pid)
    if started is not None:
        found |= {"pid_start": started, "boot_id": boot_id()}
    return found


def pid_exists(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError, OverflowError):
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def alive(status: dict) -> bool:
    """True when the process a status names is still the one that wrote it.

    The pid must exist; when the status recorded a start time (and this machine can read one),
    the process with that pid must have started at that time, in the same boot.
    """
    pid = status.get("pid")
    if not pid_exists(pid):
        return False
    recorded = status.get("pid_start")
    if recorded is None:
        return True  # written before start times were recorded, or without /proc
    if status.get("boot_id") and boot_id() and status["boot_id"] != boot_id():
        return False
    now = start_time(pid)
    return now is None or str(now) == str(recorded)
