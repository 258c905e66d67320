"""Pieces of the Runs page: the table, the comparison, imports, downloads and deletion."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from cnn_core import paths
from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.runs import archive
from cnn_core.runs.info import RunInfo
from cnn_core.runs.store import RunStore, read_json
from ui import state, train_tools
from ui.widgets import plain_text

TABLE_COLUMNS = {
    "best val. accuracy": st.column_config.NumberColumn(format="percent"),
    "test accuracy": st.column_config.NumberColumn(format="percent"),
    "parameters": st.column_config.NumberColumn(format="localized"),
    "duration (s)": st.column_config.NumberColumn(format="%.1f"),
}


def runs_table(runs: list[RunInfo], owners: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per run; with `owners` (classroom mode), whose each run is and who sees it."""
    return pd.DataFrame(
        [
            {
                "run": r.run_id,
                "name": r.name,
                **({"owner": owners[r.run_id]} if owners is not None else {}),
                "status": r.status,
                "created": r.created.replace("T", " "),
                "dataset": r.dataset,
                "architecture": r.architecture,
                "parameters": r.params,
                "epochs": f"{r.epochs_done}/{r.epochs}" if r.epochs else r.epochs_done,
                "best val. accuracy": r.best_val_accuracy,
                "checkpoints": r.checkpoints,
                "test accuracy": r.test_accuracy,
                "duration (s)": r.duration,
            }
            for r in runs
        ]
    )


def _flatten(config: dict) -> dict:
    flat = {f"data.{k}": v for k, v in config.get("data", {}).items()}
    flat["architecture"] = config.get("architecture", {}).get("name")
    flat["parameters"] = config.get("architecture", {}).get("params")
    flat |= {f"train.{k}": v for k, v in config.get("train", {}).items()}
    return {k: ("" if v is None else str(v)) for k, v in flat.items()}


def settings_table(runs: list[RunInfo]) -> pd.DataFrame:
    """Settings side by side: one column per run, one row per setting."""
    columns = {}
    for r in runs:
        try:
            columns[r.name or r.run_id] = _flatten(read_json(r.path / "config.json"))
        except StudioError:
            columns[r.name or r.run_id] = {}
    return pd.DataFrame(columns).fillna("")


def highlight_differences(row: pd.Series) -> list[str]:
    differs = row.nunique() > 1
    return [
        "background-color: rgba(255, 193, 7, 0.28); font-weight: 600" if differs else "" for _ in row
    ]  # readable in both themes


def import_upload(upload, store: RunStore) -> None:
    """Import an uploaded model or run zip, reporting the result or the refusal.

    In classroom mode a learner's import counts like a submitted run: the core refuses it over the
    saved-runs or disk limit (`quotas.check_import`) and extracts at most the room left.
    """
    suffix, shown_name = Path(upload.name).suffix.lower(), plain_text(upload.name)
    temp = archive.save_upload(upload.getvalue(), suffix, paths.data_dir() / "imports")
    try:
        if suffix == ".zip":
            run_dir = archive.import_run_zip(temp, store, state.owner_id(), filename=upload.name)
        else:
            with st.spinner("Loading the model and evaluating it on the current dataset's test split…"):
                run_dir = archive.import_model(temp, state.current_dataset(), store, filename=upload.name, owner=state.owner_id())
        st.success(f"Imported {shown_name} as run {run_dir.name}.")
        if (run_dir / "model.keras").is_file():
            state.set_current_run(run_dir.name)
    except StudioError as exc:
        st.error(f"{shown_name} was not imported: {plain_text(str(exc))}")
    finally:
        temp.unlink(missing_ok=True)


def downloads(run: RunInfo) -> None:
    c1, c2, c3 = st.columns(3)
    if run.has_model:
        c1.download_button(
            "model.keras",
            (run.path / "model.keras").read_bytes(),
            f"{run.run_id}.keras",
            "application/octet-stream",
            icon=":material/download:",
        )
    if (run.path / "history.csv").is_file():
        c2.download_button(
            "history.csv",
            (run.path / "history.csv").read_bytes(),
            f"{run.run_id}-history.csv",
            "text/csv",
            icon=":material/download:",
        )
    c3.download_button(
        "Whole run (.zip)",
        archive.export_zip(run.path),
        f"{run.run_id}.zip",
        "application/zip",
        icon=":material/folder_zip:",
    )


def lineage(run: RunInfo, runs: list[RunInfo]) -> None:
    """Where a fine-tuned run came from, and which runs were fine-tuned from this one."""
    children = [r.run_id for r in runs if r.parent == run.run_id]
    parts = []
    if run.parent:
        seen = any(r.run_id == run.parent for r in runs)  # another learner's private run is not named
        parts.append(f"fine-tuned from run `{run.parent}`" if seen else "fine-tuned from a run you cannot see")
    if children:
        parts.append("fine-tuned into " + ", ".join(f"`{c}`" for c in children))
    if parts:
        st.markdown("**Lineage:** " + "; ".join(parts) + ".")


def next_steps(run: RunInfo, mine: bool) -> None:
    """Resume, train more, or fine-tune: each opens the Train page to watch the job."""
    from ui import live_view

    cols = st.columns(3)
    started = None
    if mine and run.checkpoints and run.status in ("paused", "interrupted", "failed"):
        if cols[0].button(
            "Resume this run", type="primary", icon=":material/play_circle:", key=state.key("runs", "resume", run.run_id)
        ):
            started = live_view.resume(run.run_id)
    elif mine and run.checkpoints and run.status in ("completed", "stopped"):
        more = cols[0].number_input("More epochs", 1, 1000, 5, key=state.key("runs", "more", run.run_id))
        if cols[0].button(
            f"Train {int(more)} more epochs", icon=":material/add_circle:", key=state.key("runs", "continue", run.run_id)
        ):
            started = live_view.resume(run.run_id, int(more))
    if started:
        st.switch_page("pages/train.py")
    trained_here = run.architecture and not run.architecture.startswith("imported")
    if trained_here and (run.has_model or run.checkpoints) and cols[1].button(
        "Fine-tune from this run", icon=":material/call_split:", key=state.key("runs", "finetune", run.run_id),
        help="Start a new run from this one's weights on the dataset chosen on the Data page (same image shape).",
    ):  # fmt: skip
        state.set_fine_tune_parent(run.run_id)
        st.switch_page("pages/train.py")
    if run.epochs_done and cols[2].button(
        "Train a variant", icon=":material/compare_arrows:", key=state.key("runs", "variant", run.run_id),
        help="Load this run's setup into the Train page, change one setting, and watch both runs side by side.",
    ):  # fmt: skip
        train_tools.start_variant(run)


def checkpoint_table(run: RunInfo) -> None:
    """The run's saved epochs, with their sizes and losses."""
    from cnn_core.training import checkpoints

    saved = checkpoints.list_checkpoints(run.path)
    if not saved:
        return
    with st.expander(f"Checkpoints: {len(saved)} saved epochs, {run.checkpoint_bytes / 2**20:,.1f} MB", icon=":material/save:"):
        st.dataframe(
            pd.DataFrame([{"epoch": c.epoch, "size (MB)": c.bytes / 2**20, "loss": c.loss, "val. loss": c.val_loss,
                           "training time (s)": c.seconds} for c in saved]),
            hide_index=True, width="stretch",
            column_config={"size (MB)": st.column_config.NumberColumn(format="%.2f"), "loss": st.column_config.NumberColumn(format="%.4f"),
                           "val. loss": st.column_config.NumberColumn(format="%.4f")},
        )  # fmt: skip
        st.caption("Evaluate and Visualize can show the model as it was at any of these epochs.")


def not_yours(run: RunInfo) -> str:
    """Why this session may look at a run but not change it."""
    if run.owner == "cli":
        return "This run was started from the command line: you can inspect, compare and download it here, not change it."
    if not run.owner:
        return "This run was saved before runs had owners: you can inspect, compare and download it here, not change it."
    if classroom.enabled():
        return "This run was published to the class by its owner: you can inspect, compare and download it, not change it."
    return "This run belongs to another browser session: you can inspect, compare and download it, not change it."


def escape(text: str) -> str:
    """A user's text (a run name, a display name) shown as itself in markdown, never as formatting."""
    return "".join("\\" + ch if ch in "\\`*_{}[]<>()#+-.!|~$:" else ch for ch in str(text))


def delete_button(run: RunInfo, store: RunStore) -> None:
    confirm = state.key("runs", "confirm", run.run_id)
    if not state.get(confirm):
        if st.button("Delete this run…", icon=":material/delete:", key=state.key("runs", "delete", run.run_id)):
            state.put(confirm, True)
            st.rerun()
        return
    st.warning(f"Delete {run.run_id} and all its files? This cannot be undone.")
    yes, no = st.columns(2)
    if yes.button("Yes, delete it", type="primary", key=state.key("runs", "yes", run.run_id)):
        try:
            store.delete(run.path, owner=state.owner_id())
            if state.current_run() == run.run_id:
                state.set_current_run(None)
            state.drop(confirm)
            st.rerun()
        except StudioError as exc:
            st.error(str(exc))
    if no.button("Cancel", key=state.key("runs", "no", run.run_id)):
        state.drop(confirm)
        st.rerun()
