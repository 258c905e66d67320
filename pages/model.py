"""Model: choose an architecture and read what it does to your images, layer by layer."""

import pandas as pd
import streamlit as st

from cnn_core import charts
from cnn_core.errors import StudioError
from cnn_core.model.architectures import ACTIVATIONS, LAYER_TYPES, PRESETS, ArchitectureSpec
from cnn_core.model.layer_table import TABLE_COLUMNS, rows_to_layers, spec_to_rows
from cnn_core.model.summary import machine_memory_bytes, plan
from cnn_core.settings.config import ArchChoice, TrainConfig
from cnn_core.settings.fields import declared
from ui import halt, settings_form, state

CUSTOM = "custom"
TRAIN_SETTINGS = {d.name: d for d in declared(TrainConfig)}
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
state.seed_widget(state.key("model", "preset"), choice.preset)
preset = st.selectbox(
    "Architecture",
    [*PRESETS, CUSTOM],
    key=state.key("model", "preset"),
    format_func=lambda k: "Your own layer stack" if k == CUSTOM else f"{PRESETS[k].name} ({k})",
)

if preset != CUSTOM:
    spec = PRESETS[preset]
    state.set_arch_choice(ArchChoice(preset))
    origin = f"tutorial {spec.source}" if spec.source[:1].isdigit() else spec.source  # "001: ..." names a tutorial
    st.markdown(f"{spec.description}  \n**From:** {origin}")
    if spec.measured:
        st.markdown(f"**Time to accuracy, measured:** {spec.measured}")
else:
    st.markdown(
        "Edit the layers below (add rows at the bottom, delete with the row menu). The output layer, "
        "input scaling and a Flatten where needed are added for you."
    )

    def load_rows(layers: list[dict]) -> None:
        state.put(state.key("model", "rows"), spec_to_rows(layers))
        state.drop(state.key("model", "editor"))  # the editor's own edits apply to the old rows

    start = st.selectbox(
        "Start from",
        list(PRESETS),
        index=list(PRESETS).index("keras-mnist"),
        key=state.key("model", "start"),
        on_change=lambda: load_rows(PRESETS[state.get(state.key("model", "start"))].layers),
    )
    if not state.has(state.key("model", "editor")):  # first visit, or back from another page
        load_rows(choice.spec().layers if choice.preset == CUSTOM else PRESETS[start].layers)
    imported = st.file_uploader("Import an architecture (JSON)", type=["json"], key=state.key("model", "import"))
    if imported is not None and state.get(state.key("model", "imported")) != imported.file_id:
        state.put(state.key("model", "imported"), imported.file_id)
        try:
            load_rows(ArchitectureSpec.from_json(imported.getvalue().decode("utf-8", "replace")).layers)
        except StudioError as exc:
            st.error(f"{imported.name}: {exc}")
    edited = st.data_editor(
        pd.DataFrame(state.get(state.key("model", "rows")), columns=TABLE_COLUMNS),
        num_rows="dynamic",
        column_config=EDITOR_COLUMNS,
        hide_index=False,
        key=state.key("model", "editor"),
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
chosen = {
    "dropout": settings_form.widget(TRAIN_SETTINGS["dropout"], "model", settings.dropout, c1),
    "batch_size": settings_form.widget(TRAIN_SETTINGS["batch_size"], "model", settings.batch_size, c2),
}
st.caption("The batch size here sets the memory estimate below, and is the Train page's batch size too.")
settings = state.update_train_config(**chosen)

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
