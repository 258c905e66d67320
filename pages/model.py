"""Model: choose an architecture and read what it does to your images, layer by layer."""

import pandas as pd
import streamlit as st

from cnn_core import charts
from cnn_core.architectures import (
    ACTIVATIONS,
    LAYER_TYPES,
    PRESETS,
    TABLE_COLUMNS,
    ArchitectureSpec,
    rows_to_layers,
    spec_to_rows,
)
from cnn_core.config import ArchChoice
from cnn_core.errors import StudioError
from cnn_core.summary import machine_memory_bytes, plan
from ui import halt, state

CUSTOM = "custom"
EDITOR_COLUMNS = {
    "type": st.column_config.SelectboxColumn("type", options=list(LAYER_TYPES), required=True, width="medium"),
    "padding": st.column_config.SelectboxColumn("padding", options=["valid", "same"]),
    "activation": st.column_config.SelectboxColumn("activation", options=ACTIVATIONS),
    **{
        c: st.column_config.NumberColumn(c, min_value=0, step=1)
        for c in ("filters", "units", "kernel_size", "pool_size", "strides")
    },
    "rate": st.column_config.NumberColumn("rate", min_value=0.0, max_value=0.95, step=0.05),
}

st.title("Model")
st.caption(
    "Choose an architecture and read its summary for the current dataset: every layer, its output shape, "
    "its parameters and how they are counted."
)

try:
    ds = state.current_dataset()
except StudioError as exc:
    st.error(f"The current dataset cannot be loaded: {exc}")
    st.page_link("pages/data.py", label="Choose a dataset", icon=":material/dataset:")
    halt()

choice = state.arch_choice()
state.seed_widget("model.preset", choice.preset)
preset = st.selectbox(
    "Architecture",
    [*PRESETS, CUSTOM],
    key="model.preset",
    format_func=lambda k: "Your own layer stack" if k == CUSTOM else f"{PRESETS[k].name} ({k})",
)

if preset != CUSTOM:
    spec = PRESETS[preset]
    state.set_arch_choice(ArchChoice(preset))
    st.markdown(f"{spec.description}  \n**From:** tutorial {spec.source}")
else:
    st.markdown(
        "Edit the layers below (add rows at the bottom, delete with the row menu). The output layer, "
        "input scaling and a Flatten where needed are added for you."
    )

    def load_rows(layers: list[dict]) -> None:
        st.session_state["model.rows"] = spec_to_rows(layers)
        st.session_state.pop("model.editor", None)  # the editor's own edits apply to the old rows

    start = st.selectbox(
        "Start from",
        list(PRESETS),
        index=list(PRESETS).index("keras-mnist"),
        key="model.start",
        on_change=lambda: load_rows(PRESETS[st.session_state["model.start"]].layers),
    )
    if "model.editor" not in st.session_state:  # first visit, or back from another page
        load_rows(choice.spec().layers if choice.preset == CUSTOM else PRESETS[start].layers)
    imported = st.file_uploader("Import an architecture (JSON)", type=["json"], key="model.import")
    if imported is not None and st.session_state.get("model.imported") != imported.file_id:
        st.session_state["model.imported"] = imported.file_id
        try:
            load_rows(ArchitectureSpec.from_json(imported.getvalue().decode("utf-8", "replace")).layers)
        except StudioError as exc:
            st.error(f"{imported.name}: {exc}")
    edited = st.data_editor(
        pd.DataFrame(st.session_state["model.rows"], columns=TABLE_COLUMNS),
        num_rows="dynamic",
        column_config=EDITOR_COLUMNS,
        hide_index=False,
        key="model.editor",
        width="stretch",
    )
    layers, errors = rows_to_layers(edited.to_dict("records"))
    if errors:
        st.error("Fix these rows to see the summary:\n\n" + "\n".join(f"- {e}" for e in errors))
        halt()
    state.set_arch_choice(ArchChoice.custom(layers))
    spec = state.arch_choice().spec()
    st.download_button("Download this architecture (JSON)", spec.to_json(), "architecture.json", "application/json")

settings = state.train_config()
c1, c2 = st.columns(2)
state.seed_widget("model.dropout_on", settings.dropout is not None)
override = c1.toggle("Set one dropout rate for every Dropout layer", key="model.dropout_on")
state.seed_widget("model.dropout", settings.dropout if settings.dropout is not None else 0.25)
rate = c1.slider("Dropout rate", 0.0, 0.9, step=0.05, key="model.dropout", disabled=not override)
state.seed_widget("model.batch", settings.batch_size)
batch = c2.number_input("Batch size (for the memory estimate)", 1, 4096, key="model.batch")
settings = state.update_train_config(dropout=round(rate, 2) if override else None, batch_size=int(batch))

try:
    model_plan = plan(spec, ds.input_shape, ds.num_classes, settings.dropout)
except StudioError as exc:
    st.error(f"{spec.name} does not fit {ds.spec.name} ({'×'.join(map(str, ds.input_shape))}): {exc}")
    halt()

st.subheader(f"{spec.name} on {ds.spec.name}")
m = st.columns(5)
m[0].metric("Parameters", f"{model_plan.total_params:,}")
m[1].metric("Trainable", f"{model_plan.trainable_params:,}")
m[2].metric("Non-trainable", f"{model_plan.non_trainable_params:,}")
m[3].metric("Weights size", f"{model_plan.size_mb:,.2f} MB")
m[4].metric("Multiply-adds per image", f"{model_plan.macs:,}")
st.dataframe(
    pd.DataFrame(model_plan.table()),
    hide_index=True,
    width="stretch",
    column_config={"parameters": st.column_config.NumberColumn(format="localized")},
)

biggest = max(model_plan.layers, key=lambda layer: layer.params)
if model_plan.total_params > 10_000_000:
    st.warning(
        f"This model is large: {model_plan.total_params:,} parameters, {biggest.params / model_plan.total_params:.0%} "
        f"of them in {biggest.name}. Pooling layers that downsample shrink what reaches the dense layers."
    )
need, have = model_plan.training_memory_bytes(settings.batch_size), machine_memory_bytes()
text = f"Estimated training memory at batch size {settings.batch_size}: **{need / 2**20:,.0f} MB** (this machine has {have / 2**30:.0f} GB)."
(st.error if need > 0.8 * have else st.warning if need > 0.4 * have else st.markdown)(text)

st.subheader("Layer stack")
st.graphviz_chart(charts.layer_diagram(model_plan.layers), width="stretch")
