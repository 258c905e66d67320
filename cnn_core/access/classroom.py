"""Who may see and do what: personal mode (the default) and classroom mode.

Personal mode trusts the one person at the machine: every run is visible, server folders may be
read, and a session controls the runs it started. Classroom mode (`cnn-studio serve --classroom`,
or `CNN_STUDIO_CLASSROOM=1`) admits a browser only with the class code or the teacher code. A
learner sees their own runs and the runs published to the class; the teacher sees and controls
every run. Members (their owner tag, display name and role) and the class limits are kept in
`<runs dir>/.classroom/`, so a restarted server still knows them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cnn_core import paths
from cnn_core.access import roster
from cnn_core.access.roster import Limits, env_limits, limits, reset_limits, set_limits  # noqa: F401 - re-exported
from cnn_core.errors import StudioError

CLASSROOM_ENV = "CNN_STUDIO_CLASSROOM"
CLASS_CODE_ENV, TEACHER_CODE_ENV = "CNN_STUDIO_CLASS_CODE", "CNN_STUDIO_TEACHER_CODE"
DATA_ROOTS_ENV = "CNN_STUDIO_DATA_ROOTS"
LEARNER, TEACHER = "learner", "teacher"


def owner_tag(owner: str) -> str:
    """What a run folder records of the session that started it: a digest, never the secret itself."""
    return "cli" if owner == "cli" else hashlib.sha256(owner.encode()).hexdigest()[:16] if owner else ""


def enabled() -> bool:
    """True when the server runs in classroom mode."""
    return os.environ.get(CLASSROOM_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def ensure_codes() -> tuple[str, str]:
    """The class and teacher codes, from the environment or made now (96 random bits each) and put
    in the environment so every script run of this server reads the same ones."""
    for var in (CLASS_CODE_ENV, TEACHER_CODE_ENV):
        if not os.environ.get(var, "").strip():
            os.environ[var] = secrets.token_urlsafe(12)
    class_code, teacher_code = os.environ[CLASS_CODE_ENV].strip(), os.environ[TEACHER_CODE_ENV].strip()
    if hmac.compare_digest(class_code, teacher_code):
        raise StudioError("the class code and the teacher code must differ")
    return class_code, teacher_code


def role_for_code(code: str) -> str | None:
    """TEACHER, LEARNER or None for a code typed or given in a link; compared in constant time."""
    class_code, teacher_code = ensure_codes()
    given = (code or "").strip().encode()
    is_teacher = hmac.compare_digest(given, teacher_code.encode())
    is_learner = hmac.compare_digest(given, class_code.encode())
    return TEACHER if is_teacher else LEARNER if is_learner else None


class AttemptLimiter:
    """Wrong codes per client address: at most `limit` in `window` seconds, then refused until the
    oldest falls out of the window."""

    def __init__(self, limit: int = 5, window: float = 60.0):
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> list[float]:
        recent = [t for t in self._failures.get(client, []) if now - t < self.window]
        self._failures[client] = recent
        return recent

    def wait(self, client: str) -> float:
        """Seconds until `client` may try again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent(client, now)
            return 0.0 if len(recent) < self.limit else max(0.0, self.window - (now - recent[0]))

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())


ATTEMPTS = AttemptLimiter()


@dataclass(frozen=True)
class Member:
    """A browser that joined the class: its owner tag, the name it chose and its role."""

    tag: str
    name: str
    role: str
    joined: float = 0.0


def join(owner: str, role: str, name: str = "") -> Member:
    """Record that the browser `owner` joined with `role` (a later join may raise a learner to teacher).

    The entry keeps a digest of the code it joined with: once that code changes (a new class, or a
    leaked teacher link), the browser is a stranger again and must join anew.
    """
    if role not in (LEARNER, TEACHER):
        raise StudioError(f"unknown role {role!r}")
    with roster.lock:
        entries = roster.read("members.json")
        old = entries.get(owner_tag(owner), {})
        was_teacher = isinstance(old, dict) and old.get("role") == TEACHER and _current(old)
        kept_role = TEACHER if role == TEACHER or was_teacher else LEARNER
        member = Member(owner_tag(owner), clean_name(name) or old.get("name", ""), kept_role, old.get("joined") or time.time())
        entries[member.tag] = {**asdict(member), "code": _code_digest(kept_role)}
        roster.write("members.json", entries)
    return member


def _code_digest(role: str) -> str:
    class_code, teacher_code = ensure_codes()
    return hashlib.sha256((teacher_code if role == TEACHER else class_code).encode()).hexdigest()[:16]


def _current(entry: dict) -> bool:
    """Did this roster entry join with the code its role has now?"""
    expected = _code_digest(TEACHER if entry.get("role") == TEACHER else LEARNER)
    return hmac.compare_digest(str(entry.get("code", "")), expected)


def clean_name(name: str) -> str:
    """A display name as shown to others: printable, one line, at most 40 characters."""
    return "".join(ch for ch in str(name or "") if ch.isprintable()).strip()[:40]


def rename(owner: str, name: str) -> None:
    member = member_of(owner)
    if member is None:
        raise StudioError("join the class before choosing a name")
    with roster.lock:
        entries = roster.read("members.json")
        entries[member.tag] = {**entries.get(member.tag, asdict(member)), "name": clean_name(name)}
        roster.write("members.json", entries)


def member_of(owner: str) -> Member | None:
    """The member this browser is, or None before it joined (or after its role's code changed)."""
    entry = roster.read("members.json").get(owner_tag(owner)) if owner and enabled() else None
    if not isinstance(entry, dict) or not _current(entry):
        return None
    return Member(owner_tag(owner), str(entry.get("name", "")), TEACHER if entry.get("role") == TEACHER else LEARNER,
                  float(entry.get("joined") or 0))  # fmt: skip


def members() -> list[Member]:
    """Every member, by the time they joined."""
    found = []
    for tag, entry in roster.read("members.json").items():
        if isinstance(entry, dict):
            role = TEACHER if entry.get("role") == TEACHER else LEARNER
            found.append(Member(tag, str(entry.get("name", "")), role, float(entry.get("joined") or 0)))
    return sorted(found, key=lambda m: m.joined)


def name_of(tag: str) -> str:
    """The display name of the member with this owner tag ("" when unknown)."""
    entry = roster.read("members.json").get(tag)
    return str(entry.get("name", "")) if isinstance(entry, dict) else ""


def admitted(owner: str) -> bool:
    """True when this browser may use the app: always in personal mode; once joined in classroom mode."""
    return not enabled() or member_of(owner) is not None


def is_teacher(owner: str) -> bool:
    """True for the teacher in classroom mode (never in personal mode, where no one is)."""
    member = member_of(owner) if enabled() else None
    return member is not None and member.role == TEACHER


def can_control(run_owner_tag: str, owner: str) -> bool:
    """May the browser `owner` stop, pause, resume, rename or delete a run started by `run_owner_tag`?
    Its owner may; in classroom mode the teacher may too. Runs of the command line are the CLI's."""
    mine = bool(run_owner_tag) and run_owner_tag != "cli" and run_owner_tag == owner_tag(owner)
    return mine or is_teacher(owner)


def can_view(run_owner_tag: str, published: bool, owner: str) -> bool:
    """May the browser `owner` see (and download) a run? Everyone may in personal mode. In classroom
    mode: its owner, the teacher, and everyone once it is published to the class."""
    if not enabled():
        return True
    return published or can_control(run_owner_tag, owner)


def data_roots() -> list[Path]:
    """The folders learners may read datasets from (`CNN_STUDIO_DATA_ROOTS`, separated by the path separator)."""
    raw = os.environ.get(DATA_ROOTS_ENV, "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def server_folders_allowed() -> bool:
    """Is "a folder on this machine" offered at all? Always in personal mode; with roots in classroom mode."""
    return not enabled() or bool(data_roots())


def check_server_path(path: str | Path) -> Path:
    """The resolved path, if this server may read it as a dataset; else a `StudioError` naming the roots."""
    resolved = Path(path).expanduser().resolve()
    if not enabled():
        return resolved
    roots = data_roots()
    if not roots:
        raise StudioError("this classroom server reads no folders of its own: upload your images as a zip or a folder")
    if not any(resolved.is_relative_to(root) for root in roots):
        names = ", ".join(str(r) for r in roots)
        raise StudioError(f"{path} is outside the folders this class may read ({names})")
    return resolved


def upload_dir(owner: str) -> Path:
    """Where this browser's uploads go: its own folder in classroom mode, the shared one otherwise."""
    base = paths.data_dir() / "uploads"
    return base / owner_tag(owner) if enabled() and owner else base


def check_dataset_id(dataset_id: str, owner: str) -> None:
    """Refuse, with a `StudioError`, a `folder:` or `zip:` dataset this browser may not read.

    In classroom mode a learner reads only folders under the data roots and their own uploads (a
    link may name any path); the teacher also reads every learner's uploads. Personal mode and
    registry ids are never refused.
    """
    kind, _, location = dataset_id.partition(":")
    if not enabled() or kind not in ("folder", "zip") or not location:
        return
    location = re.sub(r"@v-[0-9A-Za-z]+$", "", location)  # a dataset version reads the same files
    resolved = Path(location).expanduser().resolve()
    uploads = paths.data_dir() / "uploads" if is_teacher(owner) else upload_dir(owner)
    if any(resolved.is_relative_to(folder.resolve()) for folder in [uploads, *data_roots()]):
        return
    raise StudioError(f"{location} is not among your uploads or the folders this class may read: upload your images instead")
