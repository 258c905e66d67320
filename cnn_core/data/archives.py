"""Safe extraction of zip archives: members read one by one, with every size checked before it is written.

No member leaves the extraction folder (`../`, absolute paths and links are skipped). The member
count, the total declared size and the archive's overall compression ratio are checked from the
zip's directory before anything is written; every member is then streamed with a running total,
and a member that unpacks to more than it declared is stopped and removed.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cnn_core.data import budget
from cnn_core.errors import StudioError

IGNORED_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini"}
RATIO_FLOOR = 64 * 2**10  # smaller members are judged together, by the whole archive's ratio


@dataclass(frozen=True)
class IngestLimits:
    """Caps that keep an upload from filling the disk or the memory."""

    max_members: int = 100_000
    max_total_bytes: int = 4 * 2**30  # unpacked, per upload (less when a learner's disk quota has less room)
    max_ratio: float = 250.0  # unpacked / packed size: of any member over RATIO_FLOOR, and of the whole archive
    memory_budget_bytes: int = field(default_factory=budget.memory_budget_bytes)


@dataclass
class IngestReport:
    """What ingestion found: classes kept, files skipped with a reason, and the format chosen."""

    root: str
    class_names: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0
    channels: int = 3
    image_size: tuple[int, int] = (0, 0)
    streamed: bool = False
    files: list[str] = field(default_factory=list)  # each image's path under `root`, in the images' order

    def skip(self, path: str | Path, reason: str) -> None:
        self.skipped.append((str(path), reason))


def is_ignored(name: str) -> bool:
    """Hidden and system files (`.DS_Store`, `__MACOSX`, `Thumbs.db`) are never data."""
    return name.startswith(".") or name in IGNORED_NAMES


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, recovering UTF-8 names stored without the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")


def safe_relative(name: str) -> PurePosixPath | None:
    """The member's path inside the extraction folder, or None when it would escape it."""
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        return None
    return PurePosixPath(*[p for p in path.parts if p not in ("", ".")])


def extract_zip(zip_path: str | Path, dest: str | Path, limits: IngestLimits | None = None) -> tuple[Path, IngestReport]:
    """Extract `zip_path` into `dest`, skipping unsafe members; returns the folder and a report.

    Refused before anything is written: too many members, too many bytes declared, or an archive
    that would unpack to more than `max_ratio` times its own size (many small zero-filled members).
    """
    limits, dest = limits or IngestLimits(), Path(dest)
    report = IngestReport(root=str(dest))
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise StudioError(f"{Path(zip_path).name} is not a readable zip file ({exc})") from None
    with archive:
        members = _plan(archive, Path(zip_path).stat().st_size, limits, report)
        dest.mkdir(parents=True, exist_ok=True)
        written = 0
        for info, name, relative in members:
            written += _extract_member(archive, info, dest / relative, limits.max_total_bytes - written, report, name)
    return dest, report


def _plan(archive: zipfile.ZipFile, packed: int, limits: IngestLimits, report: IngestReport) -> list:
    """The members to extract (info, name, path), after every check the zip's directory allows."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise StudioError(f"the zip has {len(infos):,} members; the limit is {limits.max_members:,}")
    members = []
    for info in infos:
        name = _member_name(info)
        relative = safe_relative(name)
        if relative is None:
            report.skip(name, "unsafe path (outside the extraction folder): not extracted")
        elif any(is_ignored(part) for part in relative.parts) or info.is_dir() or not relative.parts:
            report.ignored += not info.is_dir()
        elif stat.S_ISLNK(info.external_attr >> 16):
            report.skip(name, "symbolic link: not extracted")
        elif info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            report.skip(name, "compression ratio suggests a decompression bomb: not extracted")
        else:
            members.append((info, name, relative))
    declared = sum(info.file_size for info, _, _ in members)
    if declared > limits.max_total_bytes:
        raise StudioError(
            f"the zip would unpack to {budget.size_text(declared)}; the limit is {budget.size_text(limits.max_total_bytes)}"
        )
    if declared > RATIO_FLOOR and declared > limits.max_ratio * max(packed, 1):
        raise StudioError(
            f"the zip would unpack to {budget.size_text(declared)} from {budget.size_text(packed)}, "
            f"{declared / max(packed, 1):,.0f} times its size; the limit is {limits.max_ratio:,.0f} times (a decompression bomb?)"
        )
    return members


def _extract_member(archive, info, target: Path, room: int, report: IngestReport, name: str) -> int:
    """Stream one member to disk, stopping if it unpacks to more than it declared or the budget."""
    cap = min(info.file_size, room)
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with archive.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > cap:
                    raise StudioError("unpacks to more than it declares")
                out.write(chunk)
    except (StudioError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        target.unlink(missing_ok=True)
        report.skip(name, f"could not be extracted ({exc})")
        return 0
    return size
