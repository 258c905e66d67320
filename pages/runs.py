"""Runs: every training run on this machine, to compare, continue, fine-tune, keep, export, import and share."""

import streamlit as st

from cnn_core import curves
from cnn_core.runs import RunStore, read_json, update_config
from ui import diagnosis_view, halt, runs_view, state

st.title("Runs")
st.caption(
    f"Every run saved in {RunStore().root}. Select rows to compare them; select one to open, rename, export or delete it. "
    "TensorBoard can read the same folder: `.venv/bin/tensorboard --logdir runs`."
)

store = RunStore()
with st.expander("Import a model (.keras) or a run (.zip)", icon=":material/upload:"):
    upload = st.file_uploader(
        "A .keras model trained elsewhere, or a run exported from CNN Studio",
        type=["keras", "zip", "h5"],
        key=state.key("runs", "import"),
    )
    if upload is not None and state.get(state.key("runs", "imported")) != upload.file_id:
        state.put(state.key("runs", "imported"), upload.file_id)
        runs_view.import_upload(upload, store)

runs = store.list_runs()
if not runs:
    st.info("No runs yet: train a model on the Train page, or import one above.")
    halt()
table = runs_view.runs_table(runs)
selection = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="multi-row",
    key=state.key("runs", "table"),
    column_config=runs_view.TABLE_COLUMNS,
)
chosen = [runs[i] for i in selection.selection.rows]
if not chosen:
    st.caption("Select one or more rows (the boxes on the left) to act on them.")
    halt()

if len(chosen) > 1:
    st.subheader(f"Comparing {len(chosen)} runs")
    histories = {r.name or r.run_id: store.read_history(r.path) for r in chosen}
    st.plotly_chart(curves.compare_runs(histories), width="stretch")
    settings = runs_view.settings_table(chosen)
    st.dataframe(settings.style.apply(runs_view.highlight_differences, axis=1), width="stretch")
    runs_view.report_button([r.path for r in chosen], "-".join(r.run_id for r in chosen))
    halt()

run = chosen[0]
st.subheader(run.name or run.run_id)
if run.status == "damaged":
    st.error(f"This run folder is damaged ({run.message}). It can only be deleted.")
elif run.message:
    st.caption(run.message)
mine = run.controlled_by(state.owner_id())
if run.status != "damaged":
    runs_view.lineage(run, runs)
    runs_view.next_steps(run, mine)
    findings = store.read_diagnosis(run.path)
    if findings:
        with st.expander(f"What the curves say: {len(findings)} finding(s)", expanded=True, icon=":material/troubleshoot:"):
            diagnosis_view.show(findings, run.run_id)
    runs_view.checkpoint_table(run)
left, right = st.columns(2)
if run.has_model and left.button("Make this the current model", icon=":material/check_circle:"):
    state.set_current_run(run.run_id)
    st.toast(f"{run.run_id} is now the current model")
if run.status != "damaged":
    config = read_json(run.path / "config.json")
    if right.button("Load its setup into Data, Model and Train", icon=":material/settings_backup_restore:"):
        runs_view.load_setup(config)
        st.toast("Setup loaded: dataset, architecture and settings of this run")
    if mine:
        with st.form(state.key("runs", "edit")):
            name = st.text_input("Name", value=run.name, max_chars=80)
            note = st.text_area("Note", value=run.note, max_chars=2000)
            if st.form_submit_button("Save name and note"):
                update_config(run.path, name=name.strip(), note=note.strip())
                st.rerun()
    else:
        st.caption(runs_view.not_yours(run))
    runs_view.downloads(run)
    runs_view.exports(run)
if mine or run.status == "damaged":
    runs_view.delete_button(run, store)
