"""The sweep driver: asks the study for settings, trains each trial as a job, and tells the study
how it went, as epochs arrive.

Trials are ordinary jobs of the job registry, so they queue, train and save as runs do: in this
process as threads, or with the Ray backend as actors on the cluster, as many at once as it has
CPUs for them (and a learner's class limits allow). The driver polls each job's live record: every
new epoch's validation accuracy is reported to Optuna, and a trial the pruner calls hopeless is
stopped as Stop stops a run, with a message that says after which epoch and why.

A sweep resumes where it was left (paused, or its process killed): a trial whose run finished is
told from the run's files, one whose run can continue resumes from its last checkpoint, and one
that saved nothing is tried again. Complete trials are never trained twice.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import replace

from cnn_core.access import quotas
from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore, read_json, update_config
from cnn_core.sweeps import study as studies
from cnn_core.sweeps import trials
from cnn_core.sweeps.definition import Sweep
from cnn_core.sweeps.trials import Trial, _state, _stop

log = logging.getLogger("cnn_studio.sweeps")
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


class SweepDriver:
    """Runs one sweep to its end (budget, time limit, pause or stop), in `run()` or its own thread."""

    POLL_SECONDS = 0.2

    def __init__(self, sweep: Sweep, owner: str, dataset, store: RunStore, registry=None, on_event=None):
        from cnn_core.jobs.registry import JOBS

        self.sweep, self.owner, self.dataset, self.store = sweep, owner, dataset, store
        self.registry = registry or JOBS
        self.on_event = on_event or (lambda text: None)  # the CLI prints what happens
        self.pause_requested, self.stop_requested = threading.Event(), threading.Event()
        self.running: dict[int, Trial] = {}
        self.peak = 0  # the most trials seen training at once
        self.status, self.message = "queued", ""
        self.blocked = ""  # why no further trial may start (a class limit)
        self.thread = threading.Thread(target=self.run, name=f"sweep-{sweep.sweep_id}", daemon=True)
        self._spent = float(sweep.status().get("seconds", 0.0) or 0.0)
        self._started = time.monotonic()

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def seconds(self) -> float:
        return self._spent + (time.monotonic() - self._started)

    def run(self) -> str:
        """Drive the sweep until it ends; returns its final status. Never raises."""
        try:
            self._drive()
        except StudioError as exc:
            self._halt(stop=True)
            self._end("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - the sweep records any failure; the server stays up
            log.exception("sweep %s failed", self.sweep.sweep_id)
            self._halt(stop=True)
            self._end("failed", f"{type(exc).__name__}: {exc}")
        return self.status

    def _drive(self) -> None:
        study = studies.open_study(self.sweep)
        d = self.sweep.definition
        self.status = "running"
        self.sweep.set_status("running", seconds=round(self._spent, 1))
        capacity = self._capacity()
        self._adopt(study)
        deadline = d.time_limit * 60 if d.time_limit else math.inf
        while True:
            if self.pause_requested.is_set() or self.stop_requested.is_set():
                stop = self.stop_requested.is_set()
                self._halt(stop)
                self._drain(study)
                return self._end("stopped" if stop else "paused", "stopped by request" if stop else "paused by request")
            self._poll(study)
            over = self.seconds() >= deadline
            if over:
                self._time_up(d.time_limit)
            left = d.budget - len(self._counted(study))
            while not over and not self.blocked and left > 0 and len(self.running) < capacity and self._room():
                self._start_trial(study)
                left -= 1
            if not self.running:
                break
            self.peak = max(self.peak, sum(t.job.status == "running" for t in self.running.values()))
            time.sleep(self.POLL_SECONDS)
        if self.blocked:
            return self._end("paused", f"{self.blocked}; resume the sweep when there is room")
        left_open = study.get_trials(deepcopy=False, states=(_state("RUNNING"),))
        if left_open:  # a trial's run was paused (or its Ray worker died) outside the sweep's own Pause
            return self._end("paused", f"trial {left_open[0].number} did not finish; resume the sweep to finish it")
        self._end("completed", studies.summary(self.sweep, self.store) + ("; the time limit ended it" if over else ""))

    def _counted(self, study) -> list:
        """The trials that use the budget: every one asked, except those lost with a killed process
        (their settings wait to be asked again)."""
        return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("lost") and t.state.name != "WAITING"]

    def _capacity(self) -> int:
        """How many trials may train at once: the training slots here, or the cluster's CPUs for
        jobs; never more than a learner's class allows to train and wait."""
        from cnn_core.jobs import cluster

        if cluster.address():
            ray = cluster.connect()
            per_job = cluster.job_resources()["num_cpus"]
            cpus = ray.cluster_resources().get("CPU", 1)
            found = max(1, int(cpus // per_job if per_job > 0 else cpus))  # a job asking 0 CPUs: one per CPU
        else:
            found = self.registry.max_running
        limits = quotas.limited(self.owner)
        if limits is not None:
            found = min(found, max(1, limits.active_runs + limits.queued_runs))
        return found

    def _room(self) -> bool:
        """One more trial may be submitted now. A learner's trial that would wait while as many of
        their runs wait as the class allows is refused, so it is asked later instead, once one of the
        sweep's own trials is running; with none running, the refusal pauses the sweep with its reason."""
        from cnn_core.jobs import cluster

        limits = quotas.limited(self.owner)
        if limits is None or not self.running:
            return True
        load = self.registry.load(self.owner, local=not cluster.address())
        return not (load.waits and load.waiting >= limits.queued_runs)

    def _start_trial(self, study) -> None:
        d = self.sweep.definition
        trial = study.ask({p.name: p.distribution() for p in d.params})
        try:
            config = replace(d.train, **trial.params)
            config.check()
            job = self.registry.submit(self.dataset, d.arch, config, self.owner, self.store, alongside=True)
        except StudioError as exc:  # a class limit: the trial never ran; the sweep pauses once the others end
            self._lose(study, trial, trial.params, f"it could not start: {exc}")
            self.blocked = f"trial {trial.number} could not start: {exc}"
            return
        update_config(job.run_dir, sweep={"id": self.sweep.sweep_id, "trial": trial.number})
        trial.set_user_attr("run_id", job.run_id)
        self.running[trial.number] = Trial(trial, job)
        self.on_event(f"trial {trial.number}: {studies.shown(trial.params)} -> run {job.run_id}")

    def _poll(self, study) -> None:
        """Report new epochs, prune the hopeless, and tell the study about trials whose job ended."""
        d = self.sweep.definition
        for number, t in list(self.running.items()):
            for row in t.job.record.history():
                epoch, value = int(row["epoch"]), row.get("val_accuracy")
                if epoch in t.reported or value is None or not math.isfinite(float(value)):
                    continue
                t.trial.report(float(value), epoch)
                t.reported[epoch] = float(value)
                self.on_event(f"trial {number}: epoch {epoch}, validation accuracy {float(value):.4f}")
                if (
                    d.prune
                    and not t.pruned
                    and not t.stopped
                    and epoch < d.train.epochs
                    and t.job.active
                    and t.trial.should_prune()
                ):
                    self._prune(t, epoch, studies.prune_reason(study, d.prune, epoch, t.reported))
            if not t.job.active and not t.job.thread.is_alive():
                self._settle(study, t)
                del self.running[number]

    def _prune(self, t: Trial, epoch: int, reason: str) -> None:
        t.pruned = f"pruned after epoch {epoch}: {reason}"
        t.trial.set_user_attr("message", t.pruned)
        t.trial.set_user_attr("pruned_epoch", epoch)
        t.job.control.reason = f"{t.pruned}; the model keeps what it learned"
        _stop(t.job, self.owner)
        sweep = read_json(t.job.run_dir / "config.json").get("sweep") or {}
        update_config(t.job.run_dir, sweep={**sweep, "pruned": {"epoch": epoch, "reason": reason}})
        self.on_event(f"trial {t.trial.number}: {t.pruned}")

    def _settle(self, study, t: Trial) -> None:
        """Tell the study how a trial whose job ended went (a paused or interrupted one stays open)."""
        status, message = t.job.status, t.job.snapshot().message
        values = [float(r["val_accuracy"]) for r in t.job.record.history() if r.get("val_accuracy") is not None]
        if t.pruned and status == "completed":  # it trained its last epoch before the stop landed: it is complete
            t.trial.set_user_attr("message", f"finished before the pruner's stop landed ({t.pruned})")
            t.trial.set_user_attr("pruned_epoch", None)
            update_config(t.job.run_dir, sweep={"id": self.sweep.sweep_id, "trial": t.trial.number})
        self._tell(study, t.trial, status, message, values, t.pruned)

    def _tell(self, study, trial, status: str, message: str, values: list[float], pruned: str = "") -> None:
        """Tell the study how a trial ended; a stop that no pruner or time limit asked for is marked
        "stopped" (Optuna has no such state: it is told PRUNED, and the rows say stopped)."""
        number = trial.number
        if status == "completed" and values and math.isfinite(values[-1]):
            study.tell(trial, values[-1])
            self.on_event(f"trial {number}: complete, validation accuracy {values[-1]:.4f}")
        elif status == "stopped":
            trial.set_user_attr("message", pruned or message or "stopped")
            if not pruned:
                trial.set_user_attr("stopped", True)
            study.tell(trial, state=_state("PRUNED"))
            self.on_event(f"trial {number}: {'pruned' if pruned else 'stopped'}")
        elif status in ("failed", "completed", "damaged"):
            trial.set_user_attr("message", message or "it ended without a validation accuracy")
            study.tell(trial, state=_state("FAIL"))
            self.on_event(f"trial {number}: failed: {message}")
        else:  # paused or interrupted: it stays open, and continues when the sweep resumes
            self.on_event(f"trial {number}: {status}")

    def _adopt(self, study) -> None:
        trials.adopt(self, study)

    def _lose(self, study, trial, params: dict, why: str) -> None:
        trials.lose(self, study, trial, params, why)

    def _time_up(self, minutes: float) -> None:
        for t in list(self.running.values()):
            if t.job.active and not t.pruned and not t.stopped:
                t.pruned = f"stopped at the sweep's time limit of {minutes:g} minutes"
                t.job.control.reason = t.pruned
                _stop(t.job, self.owner)

    def _halt(self, stop: bool) -> None:
        """Pause (or stop) every trial's job; they end after their current batch."""
        for t in list(self.running.values()):
            if stop:
                t.stopped = not t.pruned
                t.job.control.reason = t.job.control.reason or "stopped with the sweep"
                _stop(t.job, self.owner)
            else:
                try:
                    t.job.pause(self.owner)
                except StudioError as exc:
                    log.warning("could not pause trial %s: %s", t.trial.number, exc)

    def _drain(self, study) -> None:
        while self.running:
            self._poll(study)
            time.sleep(self.POLL_SECONDS)

    def _end(self, status: str, message: str) -> None:
        self.sweep.set_status(status, message, seconds=round(self.seconds(), 1), peak=self.peak)  # the file first
        self.status, self.message, self.dataset = status, message, None  # let go of the images
        self.on_event(f"sweep {self.sweep.sweep_id}: {status}" + (f" ({message})" if message else ""))

    def pause(self) -> None:
        self.pause_requested.set()

    def stop(self) -> None:
        self.stop_requested.set()

    def wait(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)
