"""The Sweeps page's parts: the definition form (settings written as the CLI takes them, read by the
core's parser), the sweep's controls, the live table and charts of its trials, and what to do with
the best one."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from cnn_core.access.classroom import owner_tag
from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps import charts, study
from cnn_core.sweeps.definition import PRUNERS, SEARCHES, Sweep, SweepDefinition
from cnn_core.sweeps.service import SWEEPS
from cnn_core.sweeps.space import parse_param, sweepable
from ui import state
from ui.widgets import code_span, plain_text

LIVE_SECONDS = 2
EXAMPLES = {"learning_rate": "0.0003:0.01:log", "dropout": "0.1,0.3,0.5", "batch_size": "32,64,128"}


def _example(name: str) -> str:
    s = sweepable()[name].setting
    if name in EXAMPLES:
        return EXAMPLES[name]
    if s.kind == "choice":
        return ",".join(map(str, s.choices))
    if s.kind == "bool":
        return "false,true"
    return f"{s.minimum:g}:{min(s.maximum, (s.minimum or 0) + 10 * (s.step or 1)):g}"


def define(data: DataConfig, arch: ArchChoice, train: TrainConfig) -> SweepDefinition | None:
    """The definition form, on top of the current selection; the definition when Start is pressed."""
    found = sweepable()
    names = st.multiselect(
        "Settings to vary (1 to 4)", list(found), default=["learning_rate"], max_selections=4,
        format_func=lambda n: found[n].setting.label, key=state.key("sweeps", "settings"),
        help="Every other setting is the one on the Train page, the same for every trial.",
    )  # fmt: skip
    texts = {}
    for name in names:
        texts[name] = st.text_input(
            f"{found[name].setting.label}: values", _example(name), key=state.key("sweeps", "param", name),
            help="A list (0.1,0.3,0.5), or a range low:high:log or low:high:lin. A grid splits a range into 3 "
            "values, or as many as a fourth part says (0.1:0.5:lin:5).",
        )  # fmt: skip
    left, middle, right = st.columns(3)
    search = left.selectbox("Search", list(SEARCHES), index=2, format_func=SEARCHES.get, key=state.key("sweeps", "search"))
    prune = middle.selectbox("Stop hopeless trials early", list(PRUNERS), index=1, format_func=PRUNERS.get,
                             key=state.key("sweeps", "prune"),
                             help="Each epoch's validation accuracy is compared with the other trials'.")  # fmt: skip
    trials = right.number_input("Trials", 1, 200, 6, key=state.key("sweeps", "trials"))
    minutes = left.number_input("Time limit (minutes, 0 for none)", 0.0, 10080.0, 0.0, 5.0, key=state.key("sweeps", "time"))
    epochs = middle.number_input("Epochs per trial", 1, 1000, train.epochs, key=state.key("sweeps", "epochs"))
    if not st.button("Start the sweep", type="primary", icon=":material/science:", key=state.key("sweeps", "start")):
        return None
    try:
        params = tuple(parse_param(f"{n}={texts[n]}") for n in names)
        definition = SweepDefinition(data, arch, TrainConfig.from_dict({**train.to_dict(), "epochs": int(epochs)}),
                                     params, int(trials), float(minutes) or None, search, prune)  # fmt: skip
        definition.check()
        return definition
    except StudioError as exc:
        st.error(f"Cannot start this sweep: {plain_text(str(exc))}")
        return None


def start(definition: SweepDefinition | None, owner: str, store: RunStore) -> bool:
    """Start a defined sweep on the current data and pick it on the Sweeps page; False (with the
    reason shown) when it cannot start."""
    if definition is None:
        return False
    try:
        with st.spinner("Loading the data…"):
            dataset = state.current_dataset(definition.data)
        driver = SWEEPS.start(definition, owner, dataset, store)
    except StudioError as exc:
        st.error(f"Cannot start this sweep: {plain_text(str(exc))}")
        return False
    state.put(state.key("sweeps", "pick"), driver.sweep.sweep_id)
    return True


def describe(sweep: Sweep) -> str:
    """The sweep in the picker: its id and what it varies (not its status, which changes: the
    picker's options must stay the same from one rerun to the next)."""
    return f"{sweep.sweep_id} · " + ", ".join(p.text() for p in sweep.definition.params)


def controls(sweep: Sweep, owner: str) -> None:
    """Pause and Stop while it runs, Resume once it is paused or interrupted: for its owner only."""
    status = sweep.status()
    driver = SWEEPS.get(sweep.sweep_id)
    if not sweep.controlled_by(owner):
        st.caption("This sweep was started in another session (or on the command line): you can watch it.")
        return
    left, right, _ = st.columns([1, 1, 4])
    try:
        if driver is not None and driver.active:
            if left.button("Pause", icon=":material/pause:", key=state.key("sweeps", "pause", sweep.sweep_id)):
                SWEEPS.pause(sweep.sweep_id, owner)
                st.toast("Pausing every trial after its current batch…")
            if right.button("Stop", icon=":material/stop:", key=state.key("sweeps", "stop", sweep.sweep_id)):
                SWEEPS.stop(sweep.sweep_id, owner)
                st.toast("Stopping every trial after its current batch…")
        elif status.get("status") in ("paused", "interrupted", "stopped", "failed") and owner_tag(owner) != sweep.owner:
            st.caption("Only the session that started this sweep can resume it: its trials train as that session's runs.")
        elif status.get("status") in ("paused", "interrupted", "stopped", "failed") and left.button(
            "Resume", type="primary", icon=":material/play_circle:", key=state.key("sweeps", "resume", sweep.sweep_id)
        ):
            SWEEPS.resume(sweep.sweep_id, owner, state.current_dataset(sweep.definition.data))
            st.rerun()
    except StudioError as exc:
        st.error(str(exc))


def trials_frame(rows: list[study.TrialRow], sweep: Sweep) -> pd.DataFrame:
    names = [p.name for p in sweep.definition.params]
    epochs = sweep.definition.train.epochs
    return pd.DataFrame(
        [{"trial": r.number, **{n: r.params.get(n) for n in names}, "epoch": f"{r.epochs}/{epochs}",
          "val accuracy": r.val_accuracy, "test accuracy": r.test_accuracy, "state": r.state, "note": r.message,
          "run": r.run_id} for r in rows],
        columns=["trial", *names, "epoch", "val accuracy", "test accuracy", "state", "note", "run"],
    )  # fmt: skip


def watch(sweep: Sweep, owner: str, store: RunStore) -> None:
    """The trials: redrawn every two seconds while the sweep runs, once when it has ended."""
    driver = SWEEPS.get(sweep.sweep_id)
    active = driver is not None and driver.active
    st.fragment(run_every=LIVE_SECONDS if active else None)(_trials)(sweep.sweep_id, owner, active)


def _trials(sweep_id: str, owner: str, was_active: bool) -> None:
    from cnn_core.sweeps import definition as sweeps

    store = RunStore()
    driver = SWEEPS.get(sweep_id)
    if was_active and not (driver is not None and driver.active):
        st.rerun()  # it ended: one full rerun shows Resume or the final state, and stops polling
    try:
        sweep = sweeps.load(store, sweep_id)  # its folder may have gone, or been damaged, since the page opened
        status = sweep.status()
        rows = study.trial_rows(sweep, store)
    except StudioError as exc:
        st.error(plain_text(str(exc)))
        return
    said = f": {plain_text(str(status['message']))}" if status.get("message") else ""
    st.markdown(f"**{plain_text(str(status.get('status', '?')).capitalize())}**{said}")
    if not rows:
        st.info("The first trial is starting…" if was_active else "No trial has run yet.")
        return
    top = study.best(rows)
    picked = st.dataframe(
        trials_frame(rows, sweep), hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
        key=state.key("sweeps", "table", sweep_id),
        column_config={"val accuracy": st.column_config.NumberColumn(format="%.4f"),
                       "test accuracy": st.column_config.NumberColumn(format="%.4f")},
    )  # fmt: skip
    chosen = rows[picked.selection.rows[0]] if picked.selection.rows else top
    left, right = st.columns(2)
    left.plotly_chart(charts.validation_curves(rows, top.number if top else None), width="stretch",
                      key=state.key("sweeps", "curves", sweep_id))  # fmt: skip
    coords = charts.parallel_coordinates(rows, [p.name for p in sweep.definition.params])
    if coords is not None:
        right.plotly_chart(coords, width="stretch", key=state.key("sweeps", "coords", sweep_id))
    weights = _importances(sweep) if sum(r.state == "complete" for r in rows) >= 4 else {}
    if weights:
        st.markdown("**Which settings mattered** (Optuna's fANOVA importance, over the complete trials)")
        st.plotly_chart(charts.importance_bars(weights), width="stretch", key=state.key("sweeps", "importance", sweep_id))
    elif len(sweep.definition.params) > 1:
        st.caption("Each setting's importance shows once 4 trials are complete.")
    if chosen is not None:
        _trial_actions(chosen, top, sweep, owner, store)


def _importances(sweep: Sweep) -> dict:
    try:
        return study.importances(sweep)
    except StudioError:
        return {}


def _trial_actions(row: study.TrialRow, top, sweep: Sweep, owner: str, store: RunStore) -> None:
    """What to do with the chosen trial (the best one unless a row is selected)."""
    which = "the best trial" if top is not None and row.number == top.number else f"trial {row.number}"
    st.markdown(f"**{which.capitalize()}**: {plain_text(study.shown(row.params))}, run {code_span(row.run_id)} ({row.state})")
    run_dir = store.root / row.run_id
    if not row.run_id or not (run_dir / "config.json").is_file():
        return
    info = store.info(run_dir)
    if not info.visible_to(owner):  # a trial run by someone else (a sweep resumed by another session)
        st.caption("This trial's run belongs to another session: it is not shown here.")
        return
    left, middle, right = st.columns(3)
    if state.current_run() == row.run_id:
        left.success(f"Run {row.run_id} is the current model: Evaluate, Visualize and Predict show it.")
    elif info.has_model and left.button(f"Make {which} the current model", icon=":material/check_circle:",
                                        key=state.key("sweeps", "current", row.run_id)):  # fmt: skip
        state.set_current_run(row.run_id)
        st.rerun(scope="app")  # the whole page: the sidebar card names the current model too
    more = middle.number_input("More epochs", 1, 1000, sweep.definition.train.epochs, key=state.key("sweeps", "more", row.run_id))
    if info.status in ("completed", "stopped") and info.controlled_by(owner):
        if right.button(f"Train {which} longer", icon=":material/fast_forward:", key=state.key("sweeps", "longer", row.run_id)):
            _train_longer(row.run_id, sweep, owner, int(more))
    elif right.button(f"Use {which}'s settings on the Train page", icon=":material/tune:",
                      key=state.key("sweeps", "use", row.run_id)):  # fmt: skip
        state.set_data_config(sweep.definition.data)
        state.set_arch_choice(sweep.definition.arch)
        state.update_train_config(**{**sweep.definition.train.to_dict(), **row.params, "epochs": int(more)})
        st.switch_page("pages/train.py")


def _train_longer(run_id: str, sweep: Sweep, owner: str, more: int) -> None:
    from cnn_core.jobs.registry import JOBS

    try:
        JOBS.resume(run_id, owner, state.current_dataset(sweep.definition.data), more)
    except StudioError as exc:
        st.error(str(exc))
        return
    state.set_session_job_id(run_id)
    state.set_current_run(run_id)
    st.switch_page("pages/train.py")


def _report(sweep: Sweep, store: RunStore) -> str:
    from cnn_core.sweeps.report import report

    try:
        return report(sweep, store)
    except StudioError as exc:
        return f"<!doctype html><meta charset=utf-8><p>No report: {html.escape(str(exc))}</p>"


def report_button(sweep: Sweep, store: RunStore) -> None:
    st.download_button(
        "Download the sweep's report (.html)", lambda: _report(sweep, store), f"{sweep.sweep_id}-report.html", "text/html",
        icon=":material/download:", key=state.key("sweeps", "download", sweep.sweep_id), on_click="ignore",
    )  # fmt: skip
