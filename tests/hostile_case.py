"""The one check of every hostile case (issue 24, item 7), and the measurements behind it.

`Watch` measures a case in this process: the files it added, changed or deleted under a root folder,
the growth of the process's resident memory at its peak (the kernel's high-water mark, reset when
the case starts), its time, and the bytes it wrote. `bench hostile` records these figures;
`hostile_case` asserts three things about them:

- the case says its outcome in one clear line (`Case.says`), or says why it was accepted (`Case.accepts`);
- no file outside the app's folders (data, runs, Keras home) was added, changed or deleted, in the
  test session's temporary folder (where every test's workspace lives) or at /tmp's top level;
- the peak resident memory grew by less than the case's memory budget plus a margin (`MARGIN_MB`, or
  `PAGE_MARGIN_MB` for a case that also renders a page with AppTest). The budget
  (`CNN_STUDIO_MEMORY_BUDGET_MB`) is set small for the case, `BUDGET_MB` unless the case needs more to
  reach the check under test: a case that allocated its hostile size would fail.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BUDGET_ENV = "CNN_STUDIO_MEMORY_BUDGET_MB"
BUDGET_MB = 32  # a case's memory budget unless it says otherwise: below the hostile sizes of the corpus
# What a case may add besides: measured at most 1 MB for a refusal in process (tests/core/test_bombs.py)
# and 6 MB for a prediction through the CLI; at most 11 MB with a page rendered by AppTest as well
# (tests/test_hostile.py, after its warm-up). Python's heap and the allocator's arenas grow in steps.
MARGIN_MB = 16
PAGE_MARGIN_MB = 48
SYSTEM_TMP = Path(tempfile.gettempdir())  # /tmp, unless TMPDIR says otherwise
# New names at /tmp's top level that a hostile input would make: its names. This process's own
# temporary files go to the case's folder inside the watched root (`Watch`), and other names appear
# at /tmp's top level all the time (other test workers, other checkouts' tests, browsers, Ray).
TMP_SUSPECTS = re.compile(r"evil|pwned|imported|^x$", re.IGNORECASE)
# The workdirs of the Streamlit servers that outlive a test (tests/e2e/conftest.py: the session's shared
# server, the module servers): a live server may write its log or a run there while a case runs.
LIVE_SERVERS = re.compile(r"(shared|server|srv|classroom|classroom-limits)\d+")


def snapshot(root: Path, skip: list[Path] | None = None) -> dict[str, tuple[int, int]]:
    """Every file under `root` (outside `skip`) with its modification time and size: to prove nothing else was written.

    `os.walk` and each entry's own stat, not skipped folders walked then filtered: by the end of a
    `make test` worker the session's temporary folder holds every earlier test's runs (tens of
    thousands of files), and this walk runs twice per hostile case."""
    skipped, found = {os.path.normpath(p) for p in skip or []}, {}
    for folder, dirs, _ in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:  # deleted while the walk went on
            continue
        for entry in entries:
            try:
                if entry.path not in skipped and not entry.is_dir(follow_symlinks=False):  # files and links
                    info = entry.stat(follow_symlinks=False)
                    found[entry.path] = (info.st_mtime_ns, info.st_size)
            except FileNotFoundError:  # renamed or deleted between the listing and its stat
                continue
    return found


def _memory_kb(key: str) -> int:
    """VmRSS (resident now) or VmHWM (resident at its peak) of this process, in KB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def app_folders() -> list[Path]:
    """The folders the app may write to, as the environment names them now: data, runs, Keras home."""
    from cnn_core import paths

    return [paths.data_dir(), paths.runs_dir(), paths.keras_cache_dir().parent]


@dataclass
class Watch:
    """Measure the case run inside `with Watch(root, allowed):`. While it runs, `tempfile` (and the
    TMPDIR of processes it starts) point at a folder of its own inside `root`, so temporary files left
    behind count as written outside the app's folders."""

    root: Path
    allowed: list[Path]
    seconds: float = 0.0
    rss_before: int = 0  # bytes resident when the case started
    peak_bytes: int = 0  # resident memory at the case's peak, above `rss_before`
    written: int = 0  # bytes of files added or grown under `root`
    outside: list[str] = field(default_factory=list)  # files added, changed or deleted outside `allowed`
    tmp_new: list[str] = field(default_factory=list)  # suspect new names at /tmp's top level

    def __enter__(self) -> Watch:
        self.root, self.allowed = self.root.resolve(), [a.resolve() for a in self.allowed]
        self._temp = Path(tempfile.mkdtemp(prefix="hostile-case-tmp-", dir=self.root))
        self._saved = tempfile.tempdir, os.environ.get("TMPDIR")
        tempfile.tempdir = os.environ["TMPDIR"] = str(self._temp)
        self._skip = [p for p in self.root.iterdir() if p.is_dir() and LIVE_SERVERS.fullmatch(p.name)]
        self._files, self._tmp = snapshot(self.root, self._skip), set(os.listdir(SYSTEM_TMP))
        Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from what is resident now
        self.rss_before, self._start = _memory_kb("VmRSS") * 1024, time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start
        self.peak_bytes = _memory_kb("VmHWM") * 1024 - self.rss_before
        tempfile.tempdir, saved_env = self._saved
        _set_env("TMPDIR", saved_env)
        after, before = snapshot(self.root, self._skip), self._files
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        self.outside = sorted(p for p in changed if not any(p.startswith(f"{a}{os.sep}") for a in self.allowed))
        self.written = sum(max(0, after[p][1] - before.get(p, (0, 0))[1]) for p in changed if p in after)
        self.tmp_new = sorted(n for n in set(os.listdir(SYSTEM_TMP)) - self._tmp if TMP_SUSPECTS.search(n))
        shutil.rmtree(self._temp, ignore_errors=True)  # its leftovers are counted in `outside`


@dataclass
class Case:
    """What a hostile case said: its one-line refusal, or why it was accepted."""

    said: list[str] = field(default_factory=list)

    def says(self, message: str) -> str:
        """Check that `message` is one clear line (a refusal, or a skipped file's reason) and keep it."""
        text = message.strip()
        assert text and "\n" not in text and "Traceback" not in text, f"not one clear line: {message[-1500:]!r}"
        self.said.append(text)
        return text

    def accepts(self, why: str) -> None:
        """An odd input that is fine: say why (what was checked instead of a refusal)."""
        self.said.append(f"accepted: {why}")


@contextmanager
def hostile_case(root: Path, allowed: list[Path] | None = None, budget_mb: float = BUDGET_MB, margin_mb: float = MARGIN_MB):
    """Run one hostile case under the three checks of the module's docstring.

    Args:
        root: the test session's temporary folder (`tmp_path_factory.getbasetemp()`).
        allowed: the folders the case may write to; by default the app's (`app_folders`).
        budget_mb: the server's memory budget during the case.
    """
    saved = os.environ.get(BUDGET_ENV)
    _set_env(BUDGET_ENV, str(budget_mb))
    case = Case()
    try:
        with Watch(Path(root), app_folders() if allowed is None else list(allowed)) as watch:
            yield case
    finally:
        _set_env(BUDGET_ENV, saved)
    assert case.said, "a hostile case states its outcome: case.says(message) or case.accepts(why)"
    assert not watch.outside, f"written outside the app's folders: {watch.outside[:5]}"
    assert not watch.tmp_new, f"new in {SYSTEM_TMP}: {watch.tmp_new}"
    limit = (budget_mb + margin_mb) * 2**20
    assert watch.peak_bytes < limit, (
        f"resident memory grew by {watch.peak_bytes / 2**20:.0f} MB; the budget is {budget_mb} MB, the margin {margin_mb} MB"
    )
