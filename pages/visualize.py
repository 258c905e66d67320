"""Visualize: what the trained network sees in one image, layer by layer, and where it looks."""

import streamlit as st

from cnn_core.errors import StudioError
from cnn_core.inspection.preprocess import prepare
from ui import halt, inspect_views, run_picker, state
from ui.widgets import sharp

st.title("Visualize")
st.caption(
    "Pick an image and look inside the model: feature maps of every convolution and pooling layer, the filters, "
    "and which pixels drove the decision."
)

loaded = run_picker.require(epochs=True)
run_id, dataset, config, inspector = loaded.run_id, loaded.dataset, loaded.config, loaded.inspector
names = dataset.class_names

source = st.radio(
    "Image", ["Test image", "Misclassified test image", "Upload"], horizontal=True, key=state.key("visualize", "source")
)
if source == "Test image":
    left, right = st.columns(2)
    k = left.selectbox("Class", range(len(names)), format_func=names.__getitem__, key=state.key("visualize", "class"))
    of_class = [i for i, y in enumerate(dataset.test.labels) if y == k]
    n = right.number_input(f"Which one (of {len(of_class)})", 1, max(1, len(of_class)), key=state.key("visualize", "index"))
    image = dataset.test.images[of_class[int(n) - 1]]
elif source == "Misclassified test image":
    result = run_picker.evaluation(run_id, loaded.epoch)
    wrong = result.misclassified()
    if not len(wrong):
        st.success("The model gets every test image right: nothing to show here.")
        halt()
    i = st.selectbox(
        "Mistake",
        wrong[:200],
        key=state.key("visualize", "mistake"),
        format_func=lambda i: f"#{i}: {names[result.y_true[i]]} → {names[result.y_pred[i]]} ({result.confidence[i]:.0%})",
    )
    image = dataset.test.images[i]
else:
    upload = st.file_uploader("An image file", key=state.key("visualize", "upload"))
    if upload is None:
        halt()
    try:
        image = prepare(upload.getvalue(), dataset.input_shape, config["dataset"].get("digits_style", False))
    except StudioError as exc:
        st.error(f"{upload.name}: {exc}")
        halt()

left, right = st.columns([1, 2])
left.image(sharp(image, 160), caption="the model's input", clamp=True, alt="The chosen image, as the model receives it")
with right:
    probs = inspect_views.prediction(inspector, image, names)

st.subheader("Feature maps")
maps = inspect_views.feature_maps(inspector, image, "visualize")
st.subheader("Where the model looks")
inspect_views.saliency(inspector, image, names, probs, "visualize")
with st.expander("How robust is this prediction? Turn, shift, fade or cover the image", icon=":material/tune:"):
    inspect_views.robustness(inspector, image, names, "visualize")
st.subheader("Filters")
inspect_views.filters(inspector, "visualize")
with st.expander("What excites each filter or class (activation maximisation)", icon=":material/auto_awesome:"):
    inspect_views.maximisation(loaded)
with st.expander("Filmstrip: the first filters at every saved epoch", icon=":material/movie:"):
    inspect_views.filmstrip(loaded)
st.subheader("Activation statistics for this image")
inspect_views.activation_stats(inspector, maps)
