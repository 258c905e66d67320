"""Train: set the hyperparameters, train, and watch loss and accuracy live. Training keeps going
in the background if you click elsewhere or change page."""

from dataclasses import replace

import streamlit as st

from cnn_core.config import OPTIMIZERS
from cnn_core.errors import StudioError
from cnn_core.jobs import JOBS
from cnn_core.summary import plan
from ui import halt, state, training

RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]

st.title("Train")
st.caption(
    "Set the training settings and press Train. Charts update about once a second; training keeps running "
    "while you look at other pages, and Stop keeps what was learned so far."
)

try:
    ds = state.current_dataset()
    arch = state.arch_choice()
    spec = arch.spec()
    settings = state.train_config()
    model_plan = plan(spec, ds.input_shape, ds.num_classes, settings.dropout)
except StudioError as exc:
    st.error(f"Cannot train with the current selection: {exc}")
    st.page_link("pages/data.py", label="Data", icon=":material/dataset:")
    st.page_link("pages/model.py", label="Model", icon=":material/account_tree:")
    halt()

st.markdown(
    f"**{spec.name}** ({model_plan.total_params:,} parameters) on **{ds.spec.name}** "
    f"({len(ds.train):,} training, {len(ds.validation):,} validation, {len(ds.test):,} test images of "
    f"{'×'.join(map(str, ds.input_shape))})."
)

job = training.session_job()
busy = job is not None and job.active
defaults = {
    "train.epochs": settings.epochs,
    "train.batch": settings.batch_size,
    "train.optimizer": settings.optimizer,
    "train.lr": settings.learning_rate if settings.learning_rate in RATES else 1e-3,
    "train.momentum": settings.momentum,
    "train.seed": settings.seed,
    "train.flip": settings.flip,
    "train.rotation": round(settings.rotation * 360),
    "train.zoom": settings.zoom,
    "train.translation": settings.translation,
    "train.early": settings.early_stopping,
    "train.patience": settings.patience,
    "train.validation": ds.config.validation_fraction,
}
for key, value in defaults.items():
    state.seed_widget(key, value)

with st.form("train.form", border=True):
    c = st.columns(4)
    epochs = c[0].number_input("Epochs", 1, 1000, key="train.epochs")
    batch = c[1].number_input("Batch size", 1, 4096, key="train.batch")
    optimizer = c[2].selectbox("Optimizer", list(OPTIMIZERS), format_func=OPTIMIZERS.get, key="train.optimizer")
    lr = c[3].select_slider("Learning rate", RATES, format_func=lambda v: f"{v:g}", key="train.lr")
    c = st.columns(4)
    momentum = c[0].slider("Momentum (SGD only)", 0.0, 0.99, step=0.01, key="train.momentum")
    seed = c[1].number_input("Seed", 0, 2**31 - 1, key="train.seed")
    early = c[2].checkbox("Early stopping on validation loss", key="train.early")
    patience = c[3].number_input("Patience (epochs)", 1, 100, key="train.patience")
    validation = st.slider(
        "Validation fraction (of all images; the same setting as on the Data page)", 0.0, 0.4, step=0.05, key="train.validation"
    )
    st.markdown("**Augmentation** (random changes to training images only)")
    c = st.columns(4)
    flip = c[0].checkbox("Horizontal flip", key="train.flip")
    rotation = c[1].slider("Rotation (± degrees)", 0, 180, step=5, key="train.rotation")
    zoom = c[2].slider("Zoom (±)", 0.0, 0.5, step=0.05, key="train.zoom")
    translation = c[3].slider("Shift (± fraction)", 0.0, 0.5, step=0.05, key="train.translation")
    st.caption(
        f"Dropout: {'as in the architecture' if settings.dropout is None else settings.dropout} (set it on the Model page)."
    )
    submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:", disabled=busy)

if submitted:
    settings = state.update_train_config(
        epochs=int(epochs),
        batch_size=int(batch),
        optimizer=optimizer,
        learning_rate=float(lr),
        momentum=float(momentum),
        seed=int(seed),
        flip=flip,
        rotation=rotation / 360,
        zoom=float(zoom),
        translation=float(translation),
        early_stopping=early,
        patience=int(patience),
    )
    if round(validation, 2) != ds.config.validation_fraction:
        try:
            data = replace(ds.config, validation_fraction=round(validation, 2))
            ds = state.current_dataset(data)
            state.set_data_config(data)
            st.session_state.pop("data.val", None)  # the Data page's slider re-reads it
        except StudioError as exc:
            st.error(str(exc))
            halt()
    try:
        with st.spinner("Starting (the first run loads TensorFlow, about 8 s)…"):
            job = JOBS.submit(ds, arch, settings, training.owner_id())
    except StudioError as exc:
        st.error(str(exc))
        halt()
    st.session_state[training.SESSION_JOB] = job.run_id
    st.query_params["run"] = job.run_id

if job is not None:
    st.subheader(f"Run {job.run_id}")
    if job.active:
        training.live_view(job.run_id)
    else:
        training.result_view(job)
