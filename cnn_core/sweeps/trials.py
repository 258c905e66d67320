"""A sweep's trials as the driver holds them, and what it does with the ones an earlier session
left open: a trial whose run ended is told from the run's files, a pruned one whose process died
before the stop landed is told pruned, one whose run can continue resumes from its last
checkpoint, and one that saved nothing is lost (its settings are tried again, its empty run is
deleted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cnn_core.errors import StudioError

log = logging.getLogger("cnn_studio.sweeps")


@dataclass
class Trial:
    """A trial being trained: Optuna's trial, its job, and the epochs already reported."""

    trial: object
    job: object
    reported: dict[int, float] = field(default_factory=dict)  # validation accuracy by epoch
    pruned: str = ""  # why it was stopped early, once it was
    stopped: bool = False  # stopped with the sweep (by request), not by the pruner


def adopt(driver, study) -> None:
    """Pick up the trials an earlier session left open (a pause, or a killed process)."""
    import optuna

    from cnn_core.runs.schema import valid_run_id

    store = driver.store
    for frozen in study.get_trials(deepcopy=False, states=(_state("RUNNING"),)):
        trial = optuna.trial.Trial(study, frozen._trial_id)
        run_id = str(frozen.user_attrs.get("run_id", ""))
        run_dir = store.root / run_id
        if not valid_run_id(run_id) or not (run_dir / "config.json").is_file():
            lose(driver, study, trial, frozen.params, "its run was never made")
            continue
        reported = dict(frozen.intermediate_values)
        job = driver.registry.get(run_id)
        if job is not None and job.active:
            driver.running[frozen.number] = Trial(trial, job, reported)
            continue
        info = store.info(run_dir)
        pruned = str(frozen.user_attrs.get("message", "pruned")) if frozen.user_attrs.get("pruned_epoch") else ""
        if info.status in ("completed", "stopped", "failed", "damaged"):
            values = [float(r["val_accuracy"]) for r in store.read_history(run_dir) if r.get("val_accuracy") not in (None, "")]
            driver._tell(study, trial, info.status, info.message, values, pruned)
            continue
        if pruned:  # the pruner stopped it, and its process died before the stop landed: never trained on
            trial.set_user_attr("message", pruned)
            study.tell(trial, state=_state("PRUNED"))
            driver.on_event(f"trial {frozen.number}: {pruned}")
            continue
        try:
            job = driver.registry.resume(run_dir, driver.owner, driver.dataset, store=store, alongside=True)
        except StudioError as exc:
            if not info.epochs_done and not info.checkpoints and not store.read_history(run_dir):
                discard(store, run_dir)  # it never trained (paused while queued): its settings get a new run
            lose(driver, study, trial, frozen.params, str(exc))
            continue
        driver.running[frozen.number] = Trial(trial, job, reported)
        driver.on_event(f"trial {frozen.number}: resumed run {run_id}")


def lose(driver, study, trial, params: dict, why: str) -> None:
    """A trial that left nothing to continue from: failed, not counted, and its settings tried again."""
    trial.set_user_attr("lost", True)
    trial.set_user_attr("message", why)
    study.tell(trial, state=_state("FAIL"))
    study.enqueue_trial(params)
    driver.on_event(f"trial {trial.number}: {why}; its settings will be tried again")


def discard(store, run_dir) -> None:
    """Delete a lost trial's run that holds nothing, so it neither lingers on Runs nor counts
    against the class's saved runs."""
    try:
        store.delete(run_dir)
    except (StudioError, OSError) as exc:
        log.warning("could not delete the empty run %s: %s", run_dir.name, exc)


def _stop(job, owner: str) -> None:
    """Stop a trial's job; one someone else controls (or that has just ended) is left as it is,
    rather than failing the whole sweep."""
    try:
        job.stop(owner)
    except StudioError as exc:
        log.warning("could not stop run %s: %s", getattr(job, "run_id", "?"), exc)


def _state(name: str):
    from optuna.trial import TrialState

    return TrialState[name]
