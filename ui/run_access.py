"""Which runs this browser may see and change: the visible list, who a run belongs to, publishing, `?run=` links.

Personal mode shows every run. Classroom mode shows a learner their own runs and the runs
published to the class (the teacher's as examples); the teacher sees all. Every page that lists
or opens a run goes through `visible_runs` or `find`, so a run that is not visible is never
listed, opened or downloaded, and a link naming one gets the same answer as a run that does not
exist.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cnn_core import paths
from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.runs.info import RunInfo
from cnn_core.runs.schema import valid_run_id
from cnn_core.runs.store import RunStore, in_store, read_json, update_config
from ui import state
from ui.widgets import code_span


def visible_runs(store: RunStore | None = None) -> list[RunInfo]:
    """The runs this browser may see, newest first."""
    owner = state.owner_id()
    return [r for r in (store or RunStore()).list_runs() if r.visible_to(owner)]


def find(run_id: str, runs: list[RunInfo] | None = None) -> RunInfo | None:
    """The visible run called `run_id` (among `runs`, or in the run store), or None whether it is
    missing or someone else's."""
    if runs is None:
        store = RunStore()
        folder = store.root / run_id  # a folder directly inside runs/ (links followed), damaged or not: never elsewhere
        if not (valid_run_id(run_id) and folder.is_dir() and in_store(folder, store.root)):
            return None
        runs = [store.info(folder)]  # a damaged folder too, listed as damaged
    return next((r for r in runs if r.run_id == run_id and r.visible_to(state.owner_id())), None)


def refusal(run_id: str) -> str:
    """What a link to a run that is missing or not visible says: the same words for both."""
    shown = code_span(run_id if len(run_id) <= 60 else run_id[:57] + "...")  # a link's text, never markdown
    return f"There is no run {shown} that you can see. It may have been deleted, or it belongs to someone else."


def linked_run() -> str | None:
    """The run a link names (`?run=`), if any."""
    value = st.query_params.get("run")
    return value.strip() if isinstance(value, str) and value.strip() else None


def follow_link(runs: list[RunInfo]) -> RunInfo | None:
    """The visible run a `?run=` link names, or None; a link to any other run shows `refusal`."""
    linked = linked_run()
    if not linked:
        return None
    run = find(linked, runs)
    if run is None:
        st.error(refusal(linked), icon=":material/link_off:")
    return run


def mine(run: RunInfo) -> bool:
    return bool(run.owner) and run.owner == classroom.owner_tag(state.owner_id())


def can_delete(run: RunInfo) -> bool:
    """Its owner and the teacher may delete a run. A damaged folder whose owner cannot be read may be
    deleted by anyone in personal mode, and only by the teacher in classroom mode."""
    if run.controlled_by(state.owner_id()):
        return True
    return run.status == "damaged" and not run.owner and not classroom.enabled()


def owner_label(run: RunInfo, roster: dict[str, classroom.Member] | None = None) -> str:
    """Whose run this is and who sees it, in classroom mode ("" in personal mode)."""
    if not classroom.enabled():
        return ""
    if mine(run):
        return "you · published to the class" if run.published else "you"
    if run.owner == "cli":
        return "command line"
    member = (roster if roster is not None else _roster()).get(run.owner)
    if member is None:
        return "unknown"
    teacher = member.role == classroom.TEACHER
    name = member.name or ("the teacher" if teacher else "a learner")
    if not run.published:
        return f"{name} · private"
    return f"{name} · example from the teacher" if teacher else f"{name} · published to the class"


def owner_labels(runs: list[RunInfo]) -> dict[str, str]:
    """`owner_label` of each run, by run id (the roster read once)."""
    roster = _roster() if classroom.enabled() else {}
    return {r.run_id: owner_label(r, roster) for r in runs}


def _roster() -> dict[str, classroom.Member]:
    return {m.tag: m for m in classroom.members()}


def publish_toggle(run: RunInfo) -> None:
    """ "Publish to the class": for the run's owner and the teacher, in classroom mode only."""
    if not classroom.enabled() or not run.controlled_by(state.owner_id()) or run.status == "damaged":
        return
    key = state.key("runs", "publish", run.run_id)
    state.put(key, run.published)  # the widget follows config.json, which the teacher may change too
    st.toggle(
        "Publish to the class",
        key=key,
        on_change=_publish,
        args=(run, key),
        help="Published runs can be seen, inspected and downloaded by everyone in the class; only you"
        + (" and the run's owner" if not mine(run) else " and the teacher")
        + " can change or delete them.",
    )


def _publish(run: RunInfo, key: str) -> None:
    update_config(run.path, published=bool(state.get(key)))


def dataset_refusal(path: Path) -> str | None:
    """Why this browser may not load the images a run was trained on, or None when it may.

    A run's config.json names its dataset, and that name may come from an imported zip (any server
    folder) or from another learner (their private upload): the run's model pages, report and
    conversions load those images, so each asks here first (`classroom.check_dataset_id`).
    """
    try:
        dataset_id = str(read_json(path / "config.json")["data"]["dataset_id"])
    except (StudioError, KeyError, TypeError):
        return None  # no dataset to load: loading the run says what is wrong
    try:
        classroom.check_dataset_id(dataset_id, state.owner_id())
    except StudioError as exc:
        location = dataset_id.partition(":")[2].split("@v-")[0]
        uploads = (paths.data_dir() / "uploads").resolve()
        if Path(location).expanduser().resolve().is_relative_to(uploads):
            return (
                "it was trained on another learner's upload, and its images stay private to its owner; "
                "the run's curves and metrics still show on Runs"
            )
        return f"{exc}; the run's curves and metrics still show on Runs"
    return None
