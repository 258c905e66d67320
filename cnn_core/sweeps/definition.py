"""A sweep's definition and its folder: `<runs dir>/.sweeps/<sweep id>/` holds `sweep.json` (what to
try, for whom), `status.json` (running, paused, completed, stopped, failed; with the driving
process, so a dead one reads as interrupted) and Optuna's `study.db`. The folder starts with a dot,
so the Runs list never shows it; the trials' runs sit beside the other runs.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.runs import liveness
from cnn_core.runs.atomic import locked, read_json, write_json
from cnn_core.runs.schema import CONFIG_MAX_BYTES
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps.space import SweepParam, check_params, grid_size

SEARCHES = {"grid": "Grid: every combination", "random": "Random", "tpe": "Optuna's TPE (learns from earlier trials)"}
PRUNERS = {"": "No pruning", "median": "Median pruner", "hyperband": "Hyperband pruner"}
MAX_TRIALS = 200
SWEEP_ID = re.compile(r"^sweep-\d{8}-\d{6}-[0-9a-f]{4}$")
FOLDER = ".sweeps"


@dataclass(frozen=True)
class SweepDefinition:
    """What a sweep tries: the data, the model, every trial's base settings and the varied ones.

    Args:
        trials: the budget of trials (a grid tries at most its number of combinations).
        time_limit: minutes after which no trial starts and running ones stop; None for no limit.
        search: "grid", "random" or "tpe".
        prune: "" (never), "median" or "hyperband", fed each epoch's validation accuracy.
    """

    data: DataConfig
    arch: ArchChoice
    train: TrainConfig
    params: tuple[SweepParam, ...]
    trials: int = 12
    time_limit: float | None = None
    search: str = "tpe"
    prune: str = ""
    name: str = field(default="")

    def check(self) -> None:
        """`StudioError` naming the first thing that cannot be swept as asked."""
        check_params(self.params)
        if self.search not in SEARCHES:
            raise StudioError(f"search must be one of {', '.join(SEARCHES)} (got {self.search!r})")
        if self.prune not in PRUNERS:
            raise StudioError(f"pruning must be median or hyperband (got {self.prune!r})")
        if not isinstance(self.trials, int) or not 1 <= self.trials <= MAX_TRIALS:
            raise StudioError(f"a sweep runs 1 to {MAX_TRIALS} trials (got {self.trials!r})")
        if self.time_limit is not None and not 0 < self.time_limit <= 7 * 24 * 60:
            raise StudioError(f"the time limit is in minutes, above 0 and at most a week (got {self.time_limit!r})")
        if not self.data.validation_fraction > 0:
            raise StudioError("a sweep compares trials by validation accuracy: give the data a validation fraction above 0")
        self.data.check()
        self.train.check()
        self.arch.spec()

    @property
    def budget(self) -> int:
        """How many trials the sweep runs: its budget, or fewer when a grid has fewer combinations."""
        return min(self.trials, grid_size(self.params)) if self.search == "grid" else self.trials

    def to_dict(self) -> dict:
        return {
            "data": self.data.to_dict(), "arch": self.arch.to_dict(), "train": self.train.to_dict(),
            "params": [p.to_dict() for p in self.params], "trials": self.trials, "time_limit": self.time_limit,
            "search": self.search, "prune": self.prune, "name": self.name,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> SweepDefinition:
        return cls(
            DataConfig.from_dict(data.get("data", {})), ArchChoice.from_dict(data.get("arch", {})),
            TrainConfig.from_dict(data.get("train", {})), tuple(SweepParam.from_dict(p) for p in data.get("params", [])),
            int(data.get("trials", 12)), data.get("time_limit"), str(data.get("search", "tpe")), str(data.get("prune", "")),
            str(data.get("name", "")),
        )  # fmt: skip


@dataclass
class Sweep:
    """One sweep's folder and what it holds."""

    sweep_id: str
    folder: Path
    definition: SweepDefinition
    owner: str  # the owner tag of the session that made it ("cli" from the command line)
    created: str = ""

    @property
    def storage_url(self) -> str:
        return f"sqlite:///{(self.folder / 'study.db').resolve()}"

    def status(self) -> dict:
        """status.json, with "interrupted" for a sweep whose driving process is gone."""
        try:
            found = read_json(self.folder / "status.json")
        except StudioError:
            return {"status": "interrupted", "message": "its status was never written"}
        if found.get("status") in ("running", "queued") and not liveness.alive(found):  # its process died
            found = {**found, "status": "interrupted", "message": "the process driving it stopped; resume it to go on"}
        return found

    def set_status(self, status: str, message: str = "", **extra) -> None:
        with locked(self.folder):
            write_json(self.folder / "status.json", {"status": status, "message": message, "updated": time.time(),
                                                      **liveness.identity(), **extra})  # fmt: skip

    def controlled_by(self, owner: str) -> bool:
        """The session that made it (or the teacher in classroom mode) controls it, as with runs."""
        return classroom.can_control(self.owner, owner)

    def visible_to(self, owner: str) -> bool:
        return classroom.can_view(self.owner, False, owner)


def sweeps_root(store: RunStore) -> Path:
    return store.root / FOLDER


def create(store: RunStore, definition: SweepDefinition, owner_tag: str) -> Sweep:
    """Make a new sweep's folder with its definition and a "queued" status."""
    definition.check()
    sweep_id = f"sweep-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    folder = sweeps_root(store) / sweep_id
    folder.mkdir(parents=True)
    created = datetime.now().isoformat(timespec="seconds")
    write_json(folder / "sweep.json", {"sweep_id": sweep_id, "created": created, "owner": owner_tag, **definition.to_dict()})
    sweep = Sweep(sweep_id, folder, definition, owner_tag, created)
    sweep.set_status("queued")
    return sweep


def load(store: RunStore, sweep_id: str) -> Sweep:
    """The sweep with this id; `StudioError` for an id that is not one, or a damaged folder."""
    text = str(sweep_id).strip()
    if not SWEEP_ID.match(text):
        raise StudioError(f"{text[:80]!r} is not a sweep id (they look like sweep-20261127-193000-ab12)")
    folder = sweeps_root(store) / text
    if not (folder / "sweep.json").is_file():
        raise StudioError(f"no sweep {text} in {store.root}")
    try:
        size = (folder / "sweep.json").stat().st_size
    except OSError:
        raise StudioError(f"no sweep {text} in {store.root}") from None
    if size > CONFIG_MAX_BYTES:
        raise StudioError(f"sweep {text} is damaged: sweep.json is {size:,} bytes (the limit is {CONFIG_MAX_BYTES:,})")
    data = read_json(folder / "sweep.json")
    try:
        definition = SweepDefinition.from_dict(data)
        definition.check()  # a hand-edited file must not reach the page, the report or a resumed driver
    except (StudioError, TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise StudioError(f"sweep {text} is damaged: {str(exc)[:300]}") from None
    return Sweep(text, folder, definition, str(data.get("owner", "")), str(data.get("created", "")))


def list_sweeps(store: RunStore, viewer: str | None = None) -> list[Sweep]:
    """Every sweep (newest first) that `viewer` may see; None is the command line, which sees all."""
    root = sweeps_root(store)
    found = []
    for folder in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        try:
            sweep = load(store, folder.name)
        except StudioError:
            continue
        if viewer is None or sweep.visible_to(viewer):
            found.append(sweep)
    return found
