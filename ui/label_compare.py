"""A run trained on the corrected dataset version, drawn beside the run it corrects: the Runs
page's comparison (curves per epoch) and both runs' test metrics."""

from __future__ import annotations

import html

import streamlit as st

from cnn_core.errors import StudioError
from cnn_core.jobs.registry import JOBS
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import ArchChoice, train_config_of
from cnn_core.training import curves
from ui import state, widgets

POLL_SECONDS = 2.0


def note_on_test_split(version) -> str:
    """What a loaded dataset version did to the original's test split (the same images, less those it
    excludes, some perhaps relabelled), and so whether the two runs' test accuracies compare directly."""
    before = len(version.original_labels()["test"][1])
    excluded = before - len(version.test)
    relabelled = version.edited.get("test", 0) - excluded
    if not excluded and not relabelled:
        return (f"The test split is the original run's {before:,} images with the same labels, so the two runs' "
                "test accuracies compare directly.")  # fmt: skip
    did = " and ".join(f"{verb} {n:,}" for verb, n in (("relabels", relabelled), ("excludes", excluded)) if n)
    measured = " and ".join(what for what, n in (("on fewer images", excluded), ("against other labels", relabelled)) if n)
    return (
        f"Of the original run's {before:,} test images, this version {did}"
        + (f", leaving {len(version.test):,}" if excluded else "")
        + f": the corrected run's test accuracy is measured {measured} than the original's; compare the two with that in mind."
    )


def corrected_run(loaded, dataset, started_key: str, button_key: str) -> None:
    """Train on the corrected data: a new run on `dataset` (the version) with the run's settings;
    `started_key` keeps its id in the session."""
    started = state.get(started_key)
    if started is None:
        if not st.button("Train on the corrected data", icon=":material/model_training:",
                         key=button_key):  # fmt: skip
            return
        config = train_config_of(loaded.config)
        arch = ArchChoice.from_dict(loaded.config.get("architecture", {}))
        try:
            with st.spinner("Starting the run…"):
                job = JOBS.submit(dataset, arch, config, state.owner_id())
        except StudioError as exc:
            st.error(f"The run could not start: {widgets.plain_text(str(exc))}")
            return
        state.put(started_key, job.run_id)
        st.rerun()  # the button above is gone now: the comparison takes its place
    job = JOBS.get(started)
    active = job is not None and job.active
    st.fragment(run_every=POLL_SECONDS if active else None)(_comparison)(loaded.run_id, started)


def _comparison(original: str, corrected: str) -> None:
    store = RunStore()
    job = JOBS.get(corrected)
    try:
        runs = {name: store.resolve(name) for name in (original, corrected)}
    except StudioError as exc:
        st.error(widgets.plain_text(str(exc)))
        return
    status = job.snapshot().status if job is not None else store.info(runs[corrected]).status
    st.markdown(f"**Original run {widgets.code_span(original)} against the corrected run {widgets.code_span(corrected)}** "
                f"({widgets.plain_text(status)})")  # fmt: skip
    labels = {original: f"{original} (original)", corrected: f"{corrected} (corrected)"}
    histories = {html.escape(labels[r]): store.read_history(path) for r, path in runs.items()}  # trace names render HTML
    st.plotly_chart(
        curves.compare_runs(histories), width="stretch", key=state.key("evaluate", "label_variant", "chart", corrected)
    )
    found = {}
    for run, path in runs.items():
        metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
        found[run] = metrics.get("test_accuracy") if isinstance(metrics.get("test_accuracy"), float) else None
    cells = st.columns(2)
    for cell, run in zip(cells, runs):
        accuracy, before = found[run], found[original]
        delta = (
            f"{(accuracy - before) * 100:+.2f} points"
            if run == corrected and accuracy is not None and before is not None
            else None
        )
        cell.metric(f"Test accuracy, {labels[run]}", f"{accuracy:.2%}" if accuracy is not None else "not yet", delta=delta)
    st.page_link("pages/runs.py", label="Open the Runs page (select both runs there to compare every setting)",
                 icon=":material/compare_arrows:")  # fmt: skip
