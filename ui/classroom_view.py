"""Classroom mode on the page: the join page, the member line of the sidebar card, and the Teacher
page's parts (the class table, publishing a run, the class limits).

A browser that has not joined sees the join page and nothing else: app.py draws no navigation, no
sidebar card and no link for it. Codes are checked by `cnn_core.access.classroom` (in constant time), and
wrong ones are counted per client address by `classroom.ATTEMPTS`.
"""

from __future__ import annotations

import math
from dataclasses import fields
from urllib.parse import urlencode

import streamlit as st

from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.jobs.registry import JOBS
from cnn_core.runs.store import RunStore, update_config
from ui import state
from ui.widgets import code_span

JOIN_SENTENCE = "This CNN Studio belongs to a class: enter the code your teacher gave you to join it."


def client_address() -> str:
    """The address wrong codes are counted against (Streamlit gives none for this machine itself).
    Behind a reverse proxy on this machine, Streamlit's server (uvicorn) reads it from the proxy's
    X-Forwarded-For; a proxy that does not send one makes the whole class share one count."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "unknown"  # AppTest gives a stand-in object


def try_code(code: str, name: str = "") -> str | None:
    """Join this browser with `code`; returns why it could not (None once it joined)."""
    client = client_address()
    wait = classroom.ATTEMPTS.wait(client)
    if wait > 0:  # refused before the code is even compared: guessing gains nothing while waiting
        return f"Too many wrong codes from your address: wait {math.ceil(wait)} s, then try again."
    role = classroom.role_for_code(code)
    if role is None:
        classroom.ATTEMPTS.failed(client)
        return "That is not this class's code. Check it with your teacher and try again."
    classroom.join(state.owner_id(), role, name)
    return None


def admit_from_link() -> None:
    """A link's `?code=` joins this browser directly. The code leaves the address bar either way, so
    it is not copied on with the page's link or kept in the browser's history."""
    code = st.query_params.get("code")
    if code is None:
        return
    del st.query_params["code"]
    state.put(state.key("classroom", "message"), try_code(code))


def join_page() -> None:
    """The only page a browser sees before it joins: one sentence, the code and a display name."""
    with st.columns([1, 2, 1])[1]:
        _join_form()


def _join_form() -> None:
    st.title("Join the class")
    st.markdown(JOIN_SENTENCE)
    message = state.get(state.key("classroom", "message"))
    with st.form(state.key("classroom", "form"), enter_to_submit=True):
        code = st.text_input("Code", type="password", key=state.key("classroom", "code"))
        name = st.text_input(
            "Your name",
            max_chars=40,
            key=state.key("classroom", "name"),
            help="Shown to your teacher; learners may leave it for later.",
        )
        joined = st.form_submit_button("Join", type="primary")
    if joined:
        message = try_code(code, name)
        state.put(state.key("classroom", "message"), message)
        if message is None:
            st.rerun()
    if message:
        st.error(message, icon=":material/lock:")


def member_line() -> None:
    """The sidebar card's "Class: name (role)", and a field to change the name."""
    member = classroom.member_of(state.owner_id())
    if member is None:
        return
    shown = code_span(member.name) if member.name else "(no name yet)"
    st.markdown(f"**Class:** {shown} ({member.role})")
    field = state.key("classroom", "rename")
    state.seed_widget(field, member.name)
    label = "Your name, as your teacher sees it" if member.name else "Choose a name for your teacher to see"
    st.text_input(label, max_chars=40, key=field, on_change=_rename, args=(field,))


def _rename(field: str) -> None:
    try:
        classroom.rename(state.owner_id(), str(state.get(field, "")))
    except StudioError as exc:
        st.error(str(exc))


def class_link() -> str:
    """The class link for the teacher to pass on (this page's address with the class code)."""
    url = st.context.url if isinstance(st.context.url, str) else ""
    base = url.split("?")[0].removesuffix("/teacher").rstrip("/")
    return f"{base}/?{urlencode({'code': classroom.ensure_codes()[0]})}"


def _runs_of(tag: str) -> tuple:
    """A member's run to show, their runs waiting (oldest first), and how many more of theirs train.

    The run shown is the one training (the oldest, when the class lets a learner train several),
    else the next of theirs to start, else their latest, from this server's registry.
    """
    theirs = [j for j in list(JOBS.jobs.values()) if classroom.owner_tag(j.owner) == tag]
    training = [j for j in theirs if j.status == "running"]
    queued = [j for j in theirs if j.status == "queued"]
    return (training or queued or theirs[-1:] or [None])[0], queued, max(0, len(training) - 1)


def _queue_cell(queued: list, more_training: int) -> str:
    """The learner's runs waiting, with the place in the queue of the first of them ("" when none)."""
    parts = [f"{more_training} more training"] if more_training > 0 else []
    if queued:
        place = JOBS.queue_position(queued[0])
        parts.append(f"{len(queued)} queued" + (f" (next #{place})" if place else ""))
    return ", ".join(parts)


def _row(member: classroom.Member, job, queued: list, more_training: int) -> list[str]:
    name = member.name or "(no name yet)"
    if job is None:
        return [name, member.role, "no run yet", "", "", "", ""]
    snap = job.snapshot()
    last = snap.history[-1] if snap.history else {}
    accuracy = last.get("val_accuracy", last.get("accuracy"))
    return [name, member.role, job.run_id, job.status, f"{len(snap.history)}/{snap.epochs}",
            f"{accuracy:.1%}" if accuracy is not None else "", _queue_cell(queued, more_training)]  # fmt: skip


TABLE_HEADER = ["Name", "Role", "Current run", "Status", "Epoch", "Accuracy", "Queue"]


@st.fragment(run_every=2)
def class_table() -> None:
    """Every member, the run they are training (else the next to start), their queue, with stop and pause."""
    members = classroom.members()
    if not members:
        st.info("No one has joined yet. Give your class the class link.")
        return
    widths = [2, 1, 3, 1, 1, 1, 1, 1, 1]
    for column, title in zip(st.columns(widths), TABLE_HEADER, strict=False):
        column.markdown(f"**{title}**")
    for member in members:
        cells = st.columns(widths, vertical_alignment="center")
        job, queued, more_training = _runs_of(member.tag)
        for column, value in zip(cells, _row(member, job, queued, more_training), strict=False):
            column.text(value)  # names are learners' input: plain text, never markdown
        if job is not None and job.active:  # the buttons act on the run the row shows
            _control(cells[7], job, "stop", "Stop")
            _control(cells[8], job, "pause", "Pause")


def _control(cell, job, action: str, label: str) -> None:
    if cell.button(label, key=state.key("teacher", action, job.run_id), disabled=job.stop_requested or job.pause_requested):
        try:
            getattr(job, action)(state.owner_id())  # the job checks that this browser is the teacher
        except StudioError as exc:
            st.error(str(exc))
            return
        # redraw now, so the row shows its button disabled, not in two seconds; the whole page, as a
        # click may come in a run of the whole page too (AppTest's), where a fragment's rerun is refused
        st.rerun()


def publish_picker() -> None:
    """Publish any run to the class (for a live demo), or take it back."""
    runs = [r for r in RunStore().list_runs() if r.status != "damaged"]
    if not runs:
        st.caption("No saved runs yet.")
        return
    names = {m.tag: m.name or m.role for m in classroom.members()}
    labels = {r.run_id: f"{r.run_id} · {names.get(r.owner, 'command line' if r.owner == 'cli' else 'unknown')}" for r in runs}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key=state.key("teacher", "pick"))
    run = next(r for r in runs if r.run_id == run_id)
    field = state.key("teacher", "published", run_id)
    state.put(field, run.published)  # follows config.json, which the run's owner may change too
    st.toggle("Published to the class", key=field, on_change=_publish, args=(run.path, field),
              help="Everyone in the class can see, inspect and download a published run.")  # fmt: skip


def _publish(path, field: str) -> None:
    update_config(path, published=bool(state.get(field)))


def limits_form() -> None:
    """The class limits, as the server started with them and as the teacher sets them."""
    current, started = classroom.limits(), classroom.env_limits()
    values = {}
    with st.form(state.key("teacher", "limits")):
        for f in fields(classroom.Limits):
            minutes = f.name == "run_minutes"  # may be a fraction of a minute
            kind = float if minutes else int
            values[f.name] = st.number_input(
                classroom.Limits.LABELS[f.name][:1].upper() + classroom.Limits.LABELS[f.name][1:],
                min_value=kind(0 if f.name == "queued_runs" else 0.05 if minutes else 1),
                value=kind(getattr(current, f.name)),
                step=kind(1),
                format="%g" if minutes else "%d",
                key=state.key("teacher", "limit", f.name),
                help=f"At start: {getattr(started, f.name)} (${classroom.Limits.ENV[f.name]}, or the default)",
            )
        saved = st.form_submit_button("Save the limits", type="primary")
    if saved:
        classroom.set_limits(classroom.Limits(**values))
        st.success("Saved: they apply from each learner's next run on. Nothing already saved is deleted.")
    if st.button("Back to the server's limits", key=state.key("teacher", "reset"), disabled=classroom.limits() == started):
        classroom.reset_limits()
        state.forget_widgets("teacher")
        st.rerun()
