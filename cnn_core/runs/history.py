"""Reading a run's history.csv without trusting it: a size cap, numbers only, whole epochs.

A run folder may come from an imported zip or a hand copy, so its history.csv is checked as it is
read: a file over `HISTORY_MAX_BYTES`, a value that is not a number or an epoch that is not a whole
number makes the run "damaged" (with the reason) instead of raising in every run listing. The
listing needs only a summary (epochs recorded, best validation accuracy), kept per file version
(path, modification time, size) so an unchanged file is parsed once, not on every listing.
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path

from cnn_core.errors import StudioError
from cnn_core.runs.schema import shown

# A real history is one short row per epoch (a few KB for 1,000 epochs); parsed rows take ~35x their bytes.
HISTORY_MAX_BYTES = 2 * 2**20


def _row(row: dict, line: int) -> dict | None:
    """One CSV row as numbers (None when the row was cut short); `StudioError` when it is not a history row."""
    if None in row:
        raise StudioError(f"history.csv: line {line} has more fields than its header")
    if None in row.values():
        return None  # cut short: the file ends here
    parsed = {}
    for key, text in row.items():
        if text == "":
            continue
        try:
            parsed[key] = float(text)  # NaN and inf are kept: a diverged run records them
        except ValueError:
            raise StudioError(f"history.csv: line {line}: {shown(key)} must be a number (got {shown(text)})") from None
    epoch = parsed.get("epoch")
    if epoch is not None:
        if not (math.isfinite(epoch) and epoch == int(epoch) and epoch >= 0):
            raise StudioError(f"history.csv: line {line}: epoch must be a whole number (got {shown(row['epoch'])})")
        parsed["epoch"] = int(epoch)
    return parsed


def rows(file: Path) -> list[dict]:
    """Every row of `file` (a history.csv), checked; `StudioError` naming the first problem.

    A missing file is an empty history.
    """
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StudioError(f"history.csv cannot be read ({exc})") from None
    if size > HISTORY_MAX_BYTES:
        raise StudioError(f"history.csv is {size:,} bytes; the limit is {HISTORY_MAX_BYTES:,}")
    found = []
    try:
        with open(file, newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                parsed = _row(row, line)
                if parsed is None:
                    break
                found.append(parsed)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise StudioError(f"history.csv cannot be read ({exc})") from None
    return found


def summary(file: Path) -> tuple[int, float | None, str | None]:
    """(epochs recorded, best finite validation accuracy, why the file is damaged or None) of a history.csv.

    Kept per file version, so an unchanged history is read once per process.
    """
    try:
        stat = file.stat()
    except OSError:
        return 0, None, None
    return _summary(str(file), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)  # a few dozen bytes per run
def _summary(file: str, mtime_ns: int, size: int) -> tuple[int, float | None, str | None]:
    try:
        found = rows(Path(file))
    except StudioError as exc:
        return 0, None, str(exc)
    vals = [r["val_accuracy"] for r in found if math.isfinite(r.get("val_accuracy", math.nan))]
    return len(found), max(vals) if vals else None, None
