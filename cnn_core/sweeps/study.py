"""The Optuna side of a sweep: its study in the sweep's SQLite file, the sampler and pruner the
definition names, and the trials read back as plain rows (settings, epochs, validation accuracy,
state, the trial's run) for the page, the CLI and the report.

A trial's value is the validation accuracy of its last epoch: the accuracy of the model its run
keeps. Each epoch's validation accuracy is reported to Optuna as the intermediate value of step
`epoch`, which is what the median and Hyperband pruners compare.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import threading
from dataclasses import dataclass, field

from cnn_core.errors import StudioError
from cnn_core.sweeps.definition import Sweep, SweepDefinition

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}
ENDED = ("complete", "pruned", "stopped", "failed")  # a trial's state once it ended ("stopped": by request)
OPEN = ("running", "paused")  # an open trial: its run trains, or it waits for the sweep to resume
_storages: dict[str, object] = {}
_importances: dict[tuple, dict[str, float]] = {}
_lock = threading.Lock()


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)


def storage(sweep: Sweep):
    """The sweep's Optuna storage, one per file in this process (SQLite is opened once, not per rerun)."""
    from optuna.storages import RDBStorage

    with _lock:
        url = sweep.storage_url
        if url not in _storages:
            _quiet()
            _storages[url] = RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})
        return _storages[url]


def forget(sweep: Sweep) -> None:
    """Close this process's handle on a sweep's file (before it is deleted)."""
    with _lock:
        found = _storages.pop(sweep.storage_url, None)
    if found is not None:
        found.remove_session()
        found.engine.dispose()


def sampler(definition: SweepDefinition, seed: int):
    import optuna

    if definition.search == "grid":
        return grid_sampler({p.name: p.grid() for p in definition.params}, seed)
    if definition.search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, definition.budget // 3)))


def pruner(definition: SweepDefinition):
    """The median pruner (after a quarter of the budget has finished, at most 5 trials) or
    Hyperband (from epoch 1 to the last), or none."""
    import optuna

    if definition.prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, definition.budget // 4)), n_warmup_steps=0)
    if definition.prune == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=definition.train.epochs, reduction_factor=3)
    return optuna.pruners.NopPruner()


def grid_sampler(space: dict, seed: int):
    """Optuna's grid, without its `study.stop()` once every point is taken: that call works only
    inside `study.optimize`, and the driver keeps its own count of the trials it runs."""
    import optuna

    class Grid(optuna.samplers.GridSampler):
        def after_trial(self, study, trial, state, values) -> None:
            return None

    return Grid(space, seed=seed)


def open_study(sweep: Sweep):
    """The sweep's study, made on first use, with the sampler and pruner its definition names. A
    one-setting grid's values wait in the study in the order they were given, so trial 0 is the
    first; a grid of several settings waits in an order shuffled by the seed, so a budget smaller
    than the grid spreads over every setting's values instead of trying the first one only."""
    import random

    import optuna

    d = sweep.definition
    study = optuna.create_study(
        storage=storage(sweep), study_name=sweep.sweep_id, direction="maximize", load_if_exists=True,
        sampler=sampler(d, d.train.seed), pruner=pruner(d),
    )  # fmt: skip
    if d.search == "grid" and not study.get_trials(deepcopy=False):
        combinations = list(itertools.product(*(p.grid() for p in d.params)))
        if len(d.params) > 1:
            random.Random(d.train.seed).shuffle(combinations)
        for combination in combinations:
            study.enqueue_trial(dict(zip([p.name for p in d.params], combination)))
    return study


@dataclass
class TrialRow:
    """One trial as the table, the CLI and the report show it."""

    number: int
    state: str
    params: dict
    run_id: str = ""
    epochs: int = 0  # epochs with a validation accuracy so far
    val_accuracy: float | None = None  # the last epoch's
    curve: list[float] = field(default_factory=list)  # validation accuracy per epoch
    test_accuracy: float | None = None
    message: str = ""

    def to_json(self) -> dict:
        return {
            "trial": self.number, "run_id": self.run_id, "params": self.params, "val_accuracy": self.val_accuracy,
            "test_accuracy": self.test_accuracy, "state": self.state, "epochs": self.epochs, "message": self.message,
        }  # fmt: skip


def load(sweep: Sweep):
    """The sweep's study, or None before its first trial (no study.db is made just to look);
    `StudioError` for a damaged study.db."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    if not (sweep.folder / "study.db").is_file():
        return None
    try:
        return optuna.load_study(study_name=sweep.sweep_id, storage=storage(sweep))
    except KeyError:  # no trial asked yet
        return None
    except (SQLAlchemyError, RuntimeError, ValueError) as exc:
        forget(sweep)
        raise StudioError(f"sweep {sweep.sweep_id}'s study.db is damaged ({type(exc).__name__})") from None


def trial_rows(sweep: Sweep, store=None) -> list[TrialRow]:
    """Every trial of the sweep, in order, with its run's test accuracy when the run has one. The
    state is one of ENDED, or of OPEN for a trial the sweep has not finished."""
    from sqlalchemy.exc import SQLAlchemyError

    from cnn_core.runs.schema import valid_run_id
    from cnn_core.runs.store import RunStore

    store = store or RunStore(sweep.folder.parent.parent)
    study = load(sweep)
    if study is None:
        return []
    try:
        trials = study.get_trials(deepcopy=False)
    except (SQLAlchemyError, RuntimeError, ValueError) as exc:
        forget(sweep)
        raise StudioError(f"sweep {sweep.sweep_id}'s study.db is damaged ({type(exc).__name__})") from None
    rows = []
    for t in trials:
        if t.user_attrs.get("lost") or t.state.name == "WAITING":
            continue  # lost: its process died before it saved anything, and it is tried again; waiting: not asked yet
        curve = [t.intermediate_values[k] for k in sorted(t.intermediate_values)]
        run_id = str(t.user_attrs.get("run_id", ""))
        run_id = run_id if valid_run_id(run_id) else ""  # it is joined into a path
        row = TrialRow(t.number, STATES.get(t.state.name, t.state.name.lower()), dict(t.params), run_id, len(curve),
                       curve[-1] if curve else None, curve, None, str(t.user_attrs.get("message", "")))  # fmt: skip
        if t.state.name == "PRUNED" and t.user_attrs.get("stopped"):
            row.state = "stopped"
        if t.state.name == "COMPLETE" and t.value is not None:
            row.val_accuracy = float(t.value)
        if run_id and (store.root / run_id / "config.json").is_file():
            info = store.info(store.root / run_id)
            row.test_accuracy = info.test_accuracy
            if row.state == "running" and info.status not in ("running", "queued"):
                row.state = "paused"  # paused, interrupted or ended with the sweep: it goes on when the sweep resumes
        rows.append(row)
    return rows


def best(rows: list[TrialRow]) -> TrialRow | None:
    """The complete trial with the highest validation accuracy (the earlier one on a tie)."""
    done = [r for r in rows if r.state == "complete" and r.val_accuracy is not None]
    return max(done, key=lambda r: (r.val_accuracy, -r.number)) if done else None


def importances(sweep: Sweep, minimum: int = 4) -> dict[str, float]:
    """Each setting's share of the variation in validation accuracy (Optuna's fANOVA), once at least
    `minimum` trials are complete and when at least two settings vary; empty otherwise."""
    import optuna

    study = load(sweep)
    if study is None:
        return {}
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < minimum or len(sweep.definition.params) < 2:  # one setting explains all there is
        return {}
    key = (sweep.storage_url, tuple(t.number for t in complete))
    if key not in _importances:  # a page asks every two seconds; the answer changes when a trial completes
        try:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            _importances[key] = dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
        except (ValueError, RuntimeError):  # every complete trial had the same settings
            _importances[key] = {}
    return _importances[key]


def prune_reason(study, pruner: str, epoch: int, reported: dict[int, float]) -> str:
    """Why the pruner stopped a trial after `epoch`, in words, with the numbers it compared."""
    if pruner == "hyperband":
        return (
            f"Hyperband keeps the best third of its bracket at each rung, and its validation accuracy after "
            f"epoch {epoch} ({reported[epoch]:.3f}) was not among them"
        )
    from optuna.trial import TrialState

    others = [t.intermediate_values[epoch] for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if epoch in t.intermediate_values]  # fmt: skip
    median = f" ({statistics.median(others):.3f})" if others else ""
    return (
        f"its best validation accuracy so far ({max(reported.values()):.3f}) is below the median of the complete "
        f"trials at epoch {epoch}{median}"
    )


def summary(sweep: Sweep, store=None) -> str:
    """The sweep's outcome in one line: how many trials ended how, and the best one."""
    rows = trial_rows(sweep, store)
    counts = {s: sum(r.state == s for r in rows) for s in ENDED}
    text = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no trials"
    top = best(rows)
    if top is not None:
        text += f"; best: trial {top.number} ({shown(top.params)}), validation accuracy {top.val_accuracy:.4f}"
    return text


def shown(params: dict) -> str:
    """Settings as `name=value` pairs, numbers in 4 significant digits."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
