"""Taking a run home from the Runs page: a plain Keras script, an HTML report, TFLite and SavedModel files."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cnn_core.errors import StudioError
from cnn_core.runs.info import RunInfo
from ui import run_access, state
from ui.widgets import plain_text


def exports(run: RunInfo) -> None:
    """Take the experiment home: a plain Keras script, an HTML report, TFLite and SavedModel files."""
    from cnn_core.takehome import export

    with st.expander("Take it home: a script, a report, a model for a phone", icon=":material/ios_share:"):
        try:
            script = export.script(run.path)
        except StudioError as exc:
            st.caption(f"No script: {exc}")
        else:
            st.download_button("Python script (.py)", script, f"{run.run_id}.py", "text/x-python",
                               icon=":material/code:", key=state.key("runs", "script", run.run_id),
                               help="Plain Keras you can read and run without CNN Studio: python FILE.py --epochs 1")  # fmt: skip
        refusal = run_access.dataset_refusal(run.path)  # the report and the conversions load its images
        if refusal:
            st.caption(f"No report or phone model here: {plain_text(refusal)}")
            return
        report_button([run.path], run.run_id)
        if not run.has_model:
            return
        found = state.get(state.key("runs", "deployed", run.run_id))
        if found is None and st.button("Convert to TFLite and SavedModel, and measure them", key=state.key("runs", "deploy", run.run_id),
                                       icon=":material/smartphone:"):  # fmt: skip
            from ui import run_picker

            with st.spinner("Converting, then scoring each file on the test split…"):
                loaded = run_picker.load(run.run_id)
                found = export.deployables(loaded.model, loaded.dataset)
            state.put(state.key("runs", "deployed", run.run_id), found)
        if found:
            table = [
                {"format": r["format"], "size (KB)": round(r["bytes"] / 1024, 1), "test accuracy": r["test_accuracy"]}
                for r in found
            ]
            st.dataframe(table, hide_index=True, column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})
            st.caption("TFLite is scored through its own interpreter, so the table shows what quantizing costs.")
            files = {"tflite": ("TFLite", ".tflite"), "tflite-quant": ("TFLite, quantized", "-quant.tflite"),
                     "savedmodel": ("SavedModel (.zip)", "-savedmodel.zip")}  # fmt: skip
            columns = st.columns(len(files))
            for column, r in zip(columns, (r for r in found if r["format"] in files)):
                label, suffix = files[r["format"]]
                column.download_button(label, r["content"], f"{run.run_id}{suffix}", "application/octet-stream",
                                       icon=":material/download:", key=state.key("runs", "download", run.run_id, r["format"]))  # fmt: skip


def report_button(paths: list[Path], name: str) -> None:
    """Build the HTML report on request (it evaluates each run), then offer it for download."""
    key = state.key("runs", "report_file", name)
    if state.get(key) is None and st.button("Write the HTML report" + (" comparing them" if len(paths) > 1 else ""),
                                            key=state.key("runs", "report", name), icon=":material/description:"):  # fmt: skip
        from cnn_core.takehome.report import report

        with st.spinner("Writing the report (it evaluates the model on the test split)…"):
            state.put(key, report(paths))
    if state.get(key) is not None:
        st.download_button("Report (.html, opens offline)", state.get(key), f"{name}-report.html", "text/html",
                           icon=":material/download:", key=state.key("runs", "download", name, "html"))  # fmt: skip
