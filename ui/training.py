"""The Train page's live view: a polling fragment over a background job, and the final result.

Only the session that started a job gets its controls. Any other session that opens the job's
`run=` address sees the same live view, marked as started elsewhere, with no buttons.
"""

from __future__ import annotations

import streamlit as st

from cnn_core import charts
from cnn_core.errors import StudioError
from cnn_core.jobs import ACTIVE, JOBS, TrainingJob
from ui import state


def attached_job() -> TrainingJob | None:
    """This session's latest job, or the job the address names (`?run=`), which may be someone else's."""
    run_id = st.query_params.get("run") or state.session_job_id()
    job = JOBS.get(run_id) if run_id else None
    if job is not None and job.controlled_by(state.owner_id()):
        state.set_session_job_id(job.run_id)  # a reloaded tab of the owner re-attaches with control
    return job


def is_mine(job: TrainingJob) -> bool:
    return job.controlled_by(state.owner_id())


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def progress(job: TrainingJob) -> None:
    snap = job.record.snapshot()
    if snap.status == "queued":
        position = JOBS.queue_position(job)
        st.info(
            f"Waiting for a free training slot: number {position} in the queue "
            f"({JOBS.max_running} run{'s' if JOBS.max_running > 1 else ''} train at once on this machine)."
        )
    st.progress(
        snap.fraction_done,
        text=f"Epoch {min(snap.epoch + 1, snap.epochs)} of {snap.epochs} · batch {snap.step} of {snap.steps_per_epoch}",
    )
    cols = st.columns(4)
    cols[0].metric("Status", snap.status)
    cols[1].metric("Elapsed", _duration(snap.elapsed))
    cols[2].metric("Time left (estimate)", _duration(snap.eta_seconds))
    cols[3].metric("Images per second", f"{snap.images_per_second:,.0f}")
    st.plotly_chart(charts.training_curves(snap.batches, snap.history), width="stretch", key=f"curves-{job.run_id}")
    st.caption(
        "Per-batch values are each batch's own loss and accuracy (Keras reports running averages; "
        "CNN Studio undoes the averaging), smoothed like TensorBoard's curves."
    )


def _controls(job: TrainingJob) -> None:
    if not is_mine(job):
        st.info(
            "This run was started in another browser session. You are watching it read-only: only that session "
            "can stop it. Copy a link to share a setup, never the control of a run.",
            icon=":material/visibility:",
        )
        return
    if st.button("Stop training", type="secondary", icon=":material/stop_circle:", key=state.key("train", "stop", job.run_id)):
        try:
            job.stop(state.owner_id())
            st.toast("Stopping after the current batch…")
        except StudioError as exc:
            st.error(str(exc))
    if job.stop_event.is_set():
        st.warning("Stop requested: finishing the current batch, then saving what was learned.")


@st.fragment(run_every=1.0)
def live_view(run_id: str) -> None:
    """Redrawn about once a second while the job trains; one full rerun when it ends stops polling."""
    job = JOBS.get(run_id)
    if job is None or job.status not in ACTIVE:
        st.rerun()
    _controls(job)
    progress(job)


def result_view(job: TrainingJob) -> None:
    """What a finished job shows: outcome, test metrics and the final curves."""
    snap, result = job.record.snapshot(), job.result
    if not is_mine(job):
        st.caption("This run was started in another browser session.")
    if snap.status == "failed":
        st.error(f"Training failed: {snap.message}")
    elif snap.status == "stopped":
        st.warning(f"Training stopped: {snap.message}")
    else:
        st.success(f"Training completed in {_duration(snap.elapsed)}.")
    if result and result.test_accuracy is not None:
        if is_mine(job):
            state.set_current_run(job.run_id)
        c1, c2, c3 = st.columns(3)
        c1.metric("Test accuracy", f"{result.test_accuracy:.2%}")
        c2.metric("Test loss", f"{result.test_loss:.4f}")
        c3.metric("Epochs trained", f"{len(snap.history)} of {snap.epochs}")
        if is_mine(job):
            st.caption(f"Saved in {job.run_dir}. This run is now the current model for the other pages.")
            st.page_link("pages/evaluate.py", label="Evaluate this model", icon=":material/fact_check:")
    progress(job)
