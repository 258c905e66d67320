"""The Train page's live view: a polling fragment over a background job, its controls and its result.

Only the session that started a job gets its controls (cancel, stop, pause, resume). Any other
session that may see the run (every one in personal mode; the teacher, or everyone once it is
published, in classroom mode) and opens the job's `run=` address sees the same live view, marked as
started elsewhere. A second Train press while this session's run is queued or training shows that run.
"""

from __future__ import annotations

import streamlit as st

from cnn_core.access import classroom, quotas
from cnn_core.errors import StudioError
from cnn_core.jobs.registry import ACTIVE, JOBS, TrainingJob
from cnn_core.runs.store import RunStore, owner_tag, read_json
from cnn_core.settings.config import DataConfig
from cnn_core.training import curves
from ui import diagnosis_view, state, train_tools, widgets


def attached_job() -> TrainingJob | None:
    """The job the address names (`?run=`), which may be someone else's, or this session's latest.

    Without either (a rerun cut short before it recorded the job it had just started), this
    browser's newest queued or training job: a run of its own is never lost from view.
    """
    owner = state.owner_id()
    run_id = st.query_params.get("run") or state.session_job_id()
    job = JOBS.get(run_id) if run_id else None
    if job is None and JOBS.active_for(owner):
        job = JOBS.active_for(owner)[-1]
    if job is not None and not _visible(job, owner):
        return None
    if job is not None and job.controlled_by(owner):
        watch(job)  # a reloaded tab re-attaches with control; the address names the run (a rerun cut short may not have)
    return job


def _visible(job: TrainingJob, owner: str) -> bool:
    if not classroom.enabled():
        return True
    try:
        published = bool(read_json(job.run_dir / "config.json").get("published"))
    except StudioError:
        published = False
    return classroom.can_view(owner_tag(job.owner), published, owner)


def submit(dataset, arch, settings, parent) -> TrainingJob | None:
    """Start a run, or show the one this browser already has on its way; None when nothing is shown."""
    owner = state.owner_id()
    before = {j.run_id for j in JOBS.active_for(owner)}
    try:
        with st.spinner("Starting (the first run loads TensorFlow, about 8 s)…"):
            job = JOBS.submit(dataset, arch, settings, owner, parent=parent)
    except StudioError as exc:
        st.error(str(exc))
        mine = JOBS.active_for(owner)
        if not mine:
            return None
        job = mine[-1]  # the message, then the run that is in the way
    else:
        if job.run_id in before:
            st.info(f"Run {job.run_id} with these settings is already {job.status}: here it is.", icon=":material/info:")
    watch(job)
    return job


def is_mine(job: TrainingJob) -> bool:
    return job.controlled_by(state.owner_id())


def watch(job: TrainingJob) -> None:
    """Show `job` on the Train page from now on (and keep it in the address, so a reload finds it)."""
    state.set_session_job_id(job.run_id)
    if st.query_params.get("run") != job.run_id:
        st.query_params["run"] = job.run_id


def resume(run_id: str, more_epochs: int = 0) -> TrainingJob | None:
    """Continue one of this session's runs (paused, interrupted, or finished and given more epochs)."""
    try:
        data = DataConfig.from_dict(read_json(RunStore().resolve(run_id) / "config.json").get("data", {}))
        with st.spinner("Loading the run's data and its last checkpoint…"):
            job = JOBS.resume(run_id, state.owner_id(), state.current_dataset(data), more_epochs)
    except StudioError as exc:
        st.error(f"Run {run_id} cannot be resumed: {exc}")
        return None
    watch(job)
    return job


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


# Each redraw of the live view costs training time on a 2-core machine (the browser and the server
# preempt TensorFlow's threads). Measured with the page open against no page (bench/live.py): redrawn
# every second, 0.85 of the speed; every 2 s, 0.93; every 3 s, 0.95 to 0.98.
LIVE_SECONDS = 3.0


def _own_turn(job: TrainingJob) -> str | None:
    """Why a learner's queued run waits, when it waits for their own runs (the class's active limit)
    rather than for a slot here or a worker on the cluster."""
    limits = quotas.limited(job.owner)
    if limits is None or JOBS.load(job.owner, job.local_slot).training < limits.active_runs:
        return None
    training = [j.run_id for j in JOBS.active_for(job.owner) if j is not job and JOBS.has_turn(j)]
    what = f"your run {training[0]}" if training else "your other training (a label-issue search or the learning-rate finder)"
    return (
        f"Waiting for {what} to finish: the class lets each learner train {limits.active_runs} "
        f"run{'s' if limits.active_runs > 1 else ''} at a time (number {JOBS.queue_position(job)} in the queue)."
    )


def progress_line(job: TrainingJob) -> None:
    """Queue position, or one progress bar saying where training is, how fast, and how long is left."""
    snap = job.snapshot()
    own = _own_turn(job) if snap.status == "queued" else None
    if own:
        st.info(own)
    elif snap.status == "queued" and job.backend == "this machine":
        position = JOBS.queue_position(job)
        st.info(
            f"Waiting for a free training slot: number {position} in the queue "
            f"({JOBS.max_running} run{'s' if JOBS.max_running > 1 else ''} train at once on this machine)."
        )
    elif snap.status == "queued":
        st.info(
            f"Waiting for the Ray cluster to give this run a worker with free CPUs (number {JOBS.queue_position(job)} "
            "of the runs waiting here). A new worker process loads TensorFlow first, which takes a few seconds."
        )
    elif snap.status == "running" and snap.message:  # getting ready: building the model, auto's measurement
        st.info(f"{snap.message[:1].upper()}{snap.message[1:]}…", icon=":material/hourglass_top:")
    worker = getattr(job, "worker", None)
    if worker:
        st.caption(f"Training on the Ray cluster: host {worker['host']}, process {worker['pid']}.")
    left = f" · about {duration(snap.eta_seconds)} left" if snap.eta_seconds is not None else ""
    speed = f" · {snap.images_per_second:,.0f} images/s" if snap.images_per_second else ""
    st.progress(
        snap.fraction_done,
        text=f"**{snap.status.capitalize()}** · epoch {min(snap.epoch + 1, snap.epochs)} of {snap.epochs} · batch {snap.step} "
        f"of {snap.steps_per_epoch} · training time {duration(snap.elapsed)}{left}{speed}",
    )
    for warning in snap.warnings:
        st.warning(warning, icon=":material/save:")


def summary(job: TrainingJob) -> None:
    """A finished run's figures, and any warning (a checkpoint that could not be written)."""
    snap = job.snapshot()
    cols = st.columns(4)
    cols[0].metric("Status", snap.status)
    cols[1].metric("Training time", duration(snap.elapsed))
    cols[2].metric("Time left (estimate)", duration(snap.eta_seconds))
    cols[3].metric("Images per second", f"{snap.images_per_second:,.0f}")
    for warning in snap.warnings:
        st.warning(warning, icon=":material/save:")


def curves_view(job: TrainingJob, ghosts: dict[str, list[dict]] | None = None) -> None:
    """The live curves with the findings marked on them, and the findings in words."""
    snap = job.snapshot()
    findings = [f.to_dict() for f in job.findings()]
    chart = curves.training_curves(snap.series, snap.history, ghosts, diagnosis_view.marks(findings), theme=widgets.theme())
    st.plotly_chart(chart, width="stretch", key=f"curves-{job.run_id}", theme=None)
    st.caption(
        f"{snap.points:,} batches. The band spans each batch's own loss or accuracy (Keras reports running averages; "
        "CNN Studio undoes the averaging); the line is their smoothed trend, as in TensorBoard."
    )
    if findings:
        st.markdown("**What the curves say**")
        diagnosis_view.show(findings, job.run_id, can_apply=is_mine(job))


def _controls(job: TrainingJob) -> None:
    if job.status == "queued" and is_mine(job):
        if st.button("Cancel", icon=":material/cancel:", key=state.key("train", "cancel", job.run_id),
                     help="Take this run out of the queue; nothing has trained yet."):  # fmt: skip
            _act(job.cancel, "Cancelled: the run left the queue.")
            st.rerun()
        return
    if not is_mine(job):
        st.info(
            "This run was started in another browser session. You are watching it read-only: only that session "
            "can stop or pause it. Copy a link to share a setup, never the control of a run.",
            icon=":material/visibility:",
        )
        return
    left, right, _ = st.columns([1, 1, 3])
    if left.button("Pause", icon=":material/pause_circle:", key=state.key("train", "pause", job.run_id),
                   help="Save everything after the current batch and free the machine; resume later from exactly there."):  # fmt: skip
        _act(job.pause, "Pausing after the current batch…")
    if right.button("Stop training", icon=":material/stop_circle:", key=state.key("train", "stop", job.run_id),
                    help="End now: evaluate and save the model as it is. You can still train it more later."):  # fmt: skip
        _act(job.stop, "Stopping after the current batch…")
    if job.pause_requested:
        st.warning("Pause requested: finishing the current batch, then saving a resume point.")
    elif job.stop_requested:
        st.warning("Stop requested: finishing the current batch, then saving what was learned.")


def _act(action, message: str) -> None:
    try:
        action(state.owner_id())
        st.toast(message)
    except StudioError as exc:
        st.error(str(exc))


@st.fragment(run_every=LIVE_SECONDS)
def _live(run_id: str) -> None:
    job = JOBS.get(run_id)
    if job is None or job.status not in ACTIVE:
        st.rerun()  # one full rerun when the job ends: the page then shows its result and stops polling
    _controls(job)  # in the fragment: a queued run's Cancel becomes Pause and Stop once it trains
    progress_line(job)  # one line: cheaper to redraw than the four figures of the result view
    curves_view(job, train_tools.ghost_runs(run_id))


def live_view(job: TrainingJob) -> None:
    """The running job: its controls, then its progress and curves, redrawn every three seconds."""
    _live(job.run_id)


def result_view(job: TrainingJob) -> None:
    """What a job that no longer trains shows: its outcome, what to do next, and its curves."""
    snap, result = job.snapshot(), job.result
    mine = is_mine(job)
    if not mine:
        st.caption("This run was started in another browser session.")
    if snap.status in ("paused", "interrupted"):
        if snap.status == "paused":
            st.info(f"{snap.message[:1].upper()}{snap.message[1:]}.", icon=":material/pause_circle:")
        else:  # a Ray worker or the cluster went away; what it sent back is saved here
            st.warning(f"Training was interrupted: {snap.message}.", icon=":material/link_off:")
        clicked = mine and st.button(
            "Resume", type="primary", icon=":material/play_circle:", key=state.key("train", "resume", job.run_id)
        )
        if clicked and resume(job.run_id):
            st.rerun()
    elif snap.status == "failed":
        st.error(f"Training failed: {snap.message}")
    elif snap.status == "stopped":
        st.warning(f"Training stopped: {snap.message}")
    else:
        st.success(f"Training completed in {duration(snap.elapsed)}." + (f" {snap.message}." if snap.message else ""))
    if result and result.test_accuracy is not None:
        if mine:
            state.set_current_run(job.run_id)
        c1, c2, c3 = st.columns(3)
        c1.metric("Test accuracy", f"{result.test_accuracy:.2%}")
        c2.metric("Test loss", f"{result.test_loss:.4f}")
        c3.metric("Epochs trained", f"{len(snap.history)} of {snap.epochs}")
        if mine:
            st.caption(f"Saved in {job.run_dir}. This run is now the current model for the other pages.")
            more_epochs(job.run_id)
            left, right = st.columns(2)
            left.page_link("pages/evaluate.py", label="Evaluate this model", icon=":material/fact_check:")
            if right.button("Train a variant", icon=":material/compare_arrows:", key=state.key("train", "variant", job.run_id),
                            help="Change one setting and watch the new run beside this one."):  # fmt: skip
                train_tools.start_variant(RunStore().info(job.run_dir))
    worker = getattr(job, "worker", None)
    if worker:
        st.caption(f"Trained on the Ray cluster: host {worker['host']}, process {worker['pid']}.")
    summary(job)
    curves_view(job, train_tools.ghost_runs(job.run_id))


def more_epochs(run_id: str) -> None:
    """ "Train N more epochs" for a finished run of this session: the same run goes on."""
    left, right = st.columns([1, 3])
    count = left.number_input("More epochs", 1, 1000, 5, key=state.key("train", "more", run_id),
                              help="Continue this same run: its history, checkpoints and optimizer state carry on.")  # fmt: skip
    right.write("")
    clicked = right.button(
        f"Train {int(count)} more epochs", icon=":material/add_circle:", key=state.key("train", "continue", run_id)
    )
    if clicked and resume(run_id, int(count)):
        st.rerun()


def resumable_runs() -> None:
    """After a restart or a pause, offer this session's runs that can go on."""
    runs = [r for r in RunStore().list_runs() if r.resumable and r.controlled_by(state.owner_id()) and JOBS.get(r.run_id) is None]
    for run in runs[:3]:
        with st.container(border=True):
            left, right = st.columns([3, 1])
            left.markdown(
                f"**Run {run.run_id}** is {run.status} after {run.epochs_done} of {run.epochs} epochs. {widgets.plain_text(run.message)}"
            )
            clicked = right.button("Resume", icon=":material/play_circle:", key=state.key("train", "resume", run.run_id))
            if clicked and resume(run.run_id):
                st.rerun()
