"""Predict: draw a digit or upload a picture, and see what the model predicts and why."""

import streamlit as st

from cnn_core.data.images import open_image
from cnn_core.errors import StudioError
from cnn_core.inspection.preprocess import prepare
from ui import halt, inspect_views, run_picker, state
from ui.widgets import sharp

st.title("Predict")
st.caption(
    "Draw or upload an image. It is prepared the way the training images were made — shown below as "
    '"what the model sees" — then classified, with the feature maps and Grad-CAM behind the answer.'
)

loaded = run_picker.require()
run_id, dataset, config, inspector = loaded.run_id, loaded.dataset, loaded.config, loaded.inspector
shape, names = dataset.input_shape, dataset.class_names
digits = bool(config["dataset"].get("digits_style"))

grayscale = shape[-1] == 1
sources = (["Draw"] if grayscale else []) + ["Upload", "Camera"]
# one choice per kind of model: a colour model's "Upload" does not carry over to a digit model, which can draw
source = st.radio("Input", sources, horizontal=True, key=state.key("predict", "source", "gray" if grayscale else "colour"))
data = None
if source == "Draw":
    from streamlit_drawable_canvas import st_canvas  # imports only inside a running app

    left, right = st.columns([2, 3])
    with left:
        brush = st.slider("Brush width", 5, 40, 18, key=state.key("predict", "brush"))
        canvas = st_canvas(
            stroke_width=brush,
            stroke_color="#000000",
            background_color="#FFFFFF",
            height=280,
            width=280,
            drawing_mode="freedraw",
            return_image_data=True,
            key=state.key("predict", "canvas"),
        )
        st.caption("Draw one digit, dark on white, filling most of the box. Undo and clear are in the canvas toolbar.")
    if canvas.json_data and canvas.json_data.get("objects"):
        data = canvas.image_bytes
elif source == "Upload":
    uploads = st.file_uploader(
        "PNG, JPEG, GIF (first frame), BMP or WebP: one image, or several for a table of predictions",
        accept_multiple_files=True, key=state.key("predict", "upload"),
    )  # fmt: skip
    if len(uploads) > 1:
        inspect_views.batch_predictions(inspector.model, [(u.name, u.getvalue()) for u in uploads], names, digits, run_id)
        # the newest upload first; a fresh choice whenever the list changes
        index = st.selectbox("Look closer at", range(len(uploads)), index=len(uploads) - 1,
                             format_func=lambda i: uploads[i].name, key=state.key("predict", "closer", len(uploads)))  # fmt: skip
        data = uploads[index].getvalue()
    else:
        data = uploads[0].getvalue() if uploads else None
else:
    photo = st.camera_input("Take a picture", key=state.key("predict", "camera"))
    data = photo.getvalue() if photo is not None else None

if not data:
    st.info("Draw a digit above." if source == "Draw" else "Give an image to classify.")
    halt()
try:
    x = prepare(data, shape, digits)
    original = open_image(data, target=(280, 280))
except StudioError as exc:
    st.error(f"This image cannot be used: {exc}")
    halt()

original.thumbnail((196, 196))
c1, c2, c3 = st.columns([1, 1, 2])
c1.image(original, caption="your image", clamp=True, alt="The image you gave")
c2.image(sharp(x, 196), caption=f"what the model sees ({'×'.join(map(str, shape))})", clamp=True,
         alt="Your image after preprocessing: resized, and for digits centred and inverted like the training images")  # fmt: skip
with c3:
    probs = inspect_views.prediction(inspector, x, names)

with st.expander("How robust is this prediction? Turn, shift, fade or cover the image", icon=":material/tune:"):
    inspect_views.robustness(inspector, x, names, "predict")

st.subheader("Where the model looks")
inspect_views.saliency(inspector, x, names, probs, "predict")
with st.expander("Feature maps for this image"):
    inspect_views.feature_maps(inspector, x, "predict")
