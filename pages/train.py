"""Train: set the hyperparameters, train, and watch loss and accuracy live. Training keeps going
in the background if you click elsewhere or change page; pause it, resume it, or train it longer."""

from dataclasses import replace

import streamlit as st

from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.jobs import cluster
from cnn_core.model.summary import plan
from cnn_core.runs.store import RunStore
from cnn_core.training.transfer import parent_of
from ui import halt, live_view, settings_form, state, sweep_view, train_tools

st.title("Train")
st.caption(
    "Set the training settings and press Train. The progress and charts update every few seconds; training keeps running "
    "while you look at other pages. Pause frees the machine and resumes later from the same batch; Stop keeps "
    "what was learned. The ? beside each setting says what it does."
)
if cluster.problem():
    st.warning(
        f"{cluster.problem()[:1].upper()}{cluster.problem()[1:]}. New runs cannot start until it answers; saved runs "
        "are still here on the other pages.", icon=":material/cloud_off:",
    )  # fmt: skip
elif cluster.address():
    st.caption(
        f":material/hub: Runs train on the Ray cluster at `{cluster.address()}`: each run is a job on a worker with free "
        "CPUs, and its checkpoints, curves and model come back here as it trains."
    )

try:
    ds = state.current_dataset()
    parent_id = state.fine_tune_parent()
    parent = parent_of(RunStore().resolve(parent_id), ds.input_shape) if parent_id else None
    arch = parent.arch if parent else state.arch_choice()
    spec = arch.spec()
    settings = state.train_config()
    model_plan = plan(spec, ds.input_shape, ds.num_classes, settings.dropout)
except StudioError as exc:
    st.error(f"Cannot train with the current selection: {exc}")
    if state.fine_tune_parent() and st.button("Train from scratch instead", key=state.key("train", "cancel")):
        state.set_fine_tune_parent(None)
        st.rerun()
    st.page_link("pages/data.py", label="Data", icon=":material/dataset:")
    st.page_link("pages/model.py", label="Model", icon=":material/account_tree:")
    halt()

st.markdown(
    f"**{spec.name}** ({model_plan.total_params:,} parameters) on **{ds.spec.name}** "
    f"({len(ds.train):,} training, {len(ds.validation):,} validation, {len(ds.test):,} test images of "
    f"{'×'.join(map(str, ds.input_shape))})."
)
if parent:
    with st.container(border=True):
        st.markdown(
            f"**Fine-tuning from run `{parent.run_id}`**: the new run starts from its weights, with its architecture. "
            + (
                "Its classifier is replaced: this dataset has a different number of classes."
                if len(parent.class_names) != ds.num_classes
                else ""
            )
        )
        left, right = st.columns([3, 1])
        parent.freeze = left.toggle("Freeze the convolutional layers", key=state.key("train", "freeze"),
                                    help="Keep the filters the parent learned and train only the dense layers: best for a small dataset.")  # fmt: skip
        if right.button("Train from scratch instead", key=state.key("train", "cancel")):
            state.set_fine_tune_parent(None)
            st.rerun()

variant = state.get(state.key("train", "variant"))
if variant:
    st.info(f"A variant of run `{variant}`: change a setting and press Train. Run `{variant}` is drawn beside the new one.",
            icon=":material/compare_arrows:")  # fmt: skip

job = live_view.attached_job()
# one run at a time in personal mode; a learner may queue more, up to the class limits
busy = job is not None and job.active and live_view.is_mine(job) and not classroom.enabled()
if not busy:
    live_view.resumable_runs()
    train_tools.recommended_settings(spec, settings)
with st.expander("Learning-rate schedule", icon=":material/show_chart:"):
    schedule = train_tools.schedule_section(settings, len(ds.train))
with st.expander("Find a learning rate", icon=":material/search:"):
    train_tools.lr_finder(ds, arch, settings)
with st.expander("Sweep: try many settings at once", icon=":material/science:"):
    st.caption("Train this model many times, varying 1 to 4 of the settings below; the Sweeps page watches the trials.")
    if sweep_view.start(sweep_view.define(ds.config, arch, settings), state.owner_id(), RunStore()):
        st.switch_page("pages/sweeps.py")
with st.form(state.key("train", "form"), border=True):
    chosen = settings_form.form_section(settings, "train", "Training")
    train_tools.precision_note(model_plan, len(ds.train), settings, job)
    data_changes = settings_form.form_section(ds.config, "train", "Splits", columns=1)
    st.markdown("**Augmentation** (random changes to training images only)")
    chosen |= settings_form.form_section(settings, "train", "Augmentation")
    with st.expander("Checkpoints"):
        chosen |= settings_form.form_section(settings, "train", "Checkpoints", columns=2)
    st.caption(
        f"Dropout: {'as in the architecture' if settings.dropout is None else settings.dropout} (set it on the Model page)."
    )
    submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:", disabled=busy)

if submitted and busy:  # a second click while the first one's run already trains
    st.toast(f"Run {job.run_id} is already training.")
elif submitted:
    settings = state.update_train_config(**chosen, **schedule)
    if data_changes["validation_fraction"] != ds.config.validation_fraction:
        try:
            data = replace(ds.config, **data_changes)
            ds = state.current_dataset(data)
            state.set_data_config(data)
            settings_form.forget("data", type(data))  # the Data page's widgets re-read it
        except StudioError as exc:
            st.error(str(exc))
            halt()
    job = live_view.submit(ds, arch, settings, parent)
    if job is None:
        halt()
    state.set_fine_tune_parent(None)
    state.drop(state.key("train", "variant"))

if job is not None:
    st.subheader(f"Run {job.run_id}")
    if job.active:
        live_view.live_view(job)
    else:
        live_view.result_view(job)
