"""Runs: every training run you may see, to compare, continue, fine-tune, keep, export, import and share."""

import html

import streamlit as st

from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore, read_json
from cnn_core.training import curves
from ui import diagnosis_view, halt, run_access, run_exports, runs_view, state, train_tools
from ui.widgets import plain_text

st.title("Runs")
if classroom.enabled():
    st.caption(
        "Every run of the class, with its owner's name. Select one to publish it to the class or delete it; stop runs on the Teacher page."
        if classroom.is_teacher(state.owner_id())
        else "Your runs, and the runs published to the class. Yours stay private until you publish them."
    )
else:
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

runs = run_access.visible_runs(store)
linked = run_access.follow_link(runs)  # read once: app.py drops `?run=` from the address after this run
if linked:
    state.put(state.key("runs", "linked"), linked.run_id)
opened = run_access.find(state.get(state.key("runs", "linked")) or "", runs)
if not runs:
    st.info("No runs yet: train a model on the Train page, or import one above.")
    halt()
owners = run_access.owner_labels(runs)
table = runs_view.runs_table(runs, owners if classroom.enabled() else None)
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
if chosen:
    state.drop(state.key("runs", "linked"))  # a link's run stays open until rows are chosen
elif opened:
    chosen = [opened]
if not chosen:
    st.caption("Select one or more rows (the boxes on the left) to act on them.")
    halt()

if len(chosen) > 1:
    st.subheader(f"Comparing {len(chosen)} runs")
    # names become Plotly trace names, which render a subset of HTML: escaped, as the report does
    histories = {html.escape(r.name or r.run_id): store.read_history(r.path) for r in chosen}
    st.plotly_chart(curves.compare_runs(histories), width="stretch")
    settings = runs_view.settings_table(chosen)
    st.dataframe(settings.style.apply(runs_view.highlight_differences, axis=1), width="stretch")
    refusals = [why for why in map(run_access.dataset_refusal, (r.path for r in chosen)) if why]
    if refusals:  # the report loads each run's images
        st.caption(f"No report: one of these runs cannot be loaded here ({plain_text(refusals[0])}).")
    else:
        run_exports.report_button([r.path for r in chosen], "-".join(r.run_id for r in chosen))
    halt()

run = chosen[0]
st.subheader(runs_view.escape(run.name) or run.run_id)
if owners[run.run_id] not in ("", "you"):
    st.markdown(f"**Owner:** {runs_view.escape(owners[run.run_id])}")
if run.status == "damaged":
    st.error(f"This run folder is damaged ({plain_text(run.message)}).")
elif run.message:
    st.caption(plain_text(run.message))  # status.json's words, maybe from an imported zip: never a link or an image
mine = run.controlled_by(state.owner_id())
run_access.publish_toggle(run)
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
        train_tools.load_setup(config)
        st.toast("Setup loaded: dataset, architecture and settings of this run")
    if mine:
        with st.form(state.key("runs", "edit")):
            name = st.text_input("Name", value=run.name, max_chars=80)
            note = st.text_area("Note", value=run.note, max_chars=2000)
            if st.form_submit_button("Save name and note"):
                try:
                    store.rename(run.path, state.owner_id(), name, note)
                    st.rerun()
                except StudioError as exc:
                    st.error(str(exc))
    else:
        st.caption(runs_view.not_yours(run))
    runs_view.downloads(run)
    run_exports.exports(run)
if run_access.can_delete(run):
    runs_view.delete_button(run, store)
elif run.status == "damaged":
    st.caption("Only its owner" + (" or the teacher" if classroom.enabled() else "") + " can delete it.")
