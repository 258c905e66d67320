"""Learn: how a convolution, padding, stride, pooling and flattening work, computed step by step."""

import numpy as np
import pandas as pd
import streamlit as st

from cnn_core import charts
from cnn_core.data.images import to_array
from cnn_core.errors import StudioError
from cnn_core.learn import convolution
from cnn_core.model import formulas
from ui import halt, state

st.title("Learn")
st.caption(
    "A 3×3 kernel slides over a small image; each output number is the sum of the window times the kernel. "
    "Everything here is computed, the way a Keras Conv2D and MaxPooling2D layer would."
)

left, right = st.columns(2)
with left:
    source = st.radio("Input", ["The tutorial's 6×6 “7”", "A dataset image"], horizontal=True, key=state.key("learn", "source"))
    if source == "A dataset image":
        size = st.slider("Downscale to", 5, 14, 8, key=state.key("learn", "size"))
        try:
            ds = state.current_dataset()
            from PIL import Image

            pick = st.number_input("Image number (training split)", 0, len(ds.train) - 1, 0, key=state.key("learn", "pick"))
            img = Image.fromarray(np.asarray(ds.train.images[int(pick)]).squeeze())
            base = to_array(img, (size, size), 1)[..., 0] / 255
        except StudioError as exc:
            st.error(f"The current dataset cannot be loaded: {exc}")
            base = convolution.SEVEN
    else:
        base = convolution.SEVEN
    image = st.data_editor(pd.DataFrame(np.round(base, 2)), key=state.key("learn", "image", source), width="stretch").to_numpy(
        float
    )
with right:
    preset = st.selectbox("Kernel", list(convolution.KERNELS), key=state.key("learn", "kernel"))
    kernel = st.data_editor(
        pd.DataFrame(np.round(convolution.KERNELS[preset], 3)), key=state.key("learn", "k", preset), width="stretch"
    ).to_numpy(float)
    c1, c2 = st.columns(2)
    padding = c1.radio(
        "Padding",
        ["valid", "same"],
        horizontal=True,
        key=state.key("learn", "padding"),
        help="'valid': no border, the output shrinks. 'same': a border of zeros keeps the size (with stride 1).",
    )
    stride = c2.radio("Stride", [1, 2], horizontal=True, key=state.key("learn", "stride"))
image, kernel = np.nan_to_num(image), np.nan_to_num(kernel)
n, k = image.shape[0], kernel.shape[0]
st.markdown(
    f"**Output size** ({padding}, stride {stride}): {formulas.output_size_formula(n, k, stride, padding)} "
    f"→ a {formulas.output_size(n, k, stride, padding)}×{formulas.output_size(image.shape[1], k, stride, padding)} feature map."
)
try:
    result = convolution.convolve(image, kernel, stride, padding)
except ValueError as exc:
    st.error(str(exc))
    halt()

st.subheader("Slide the window")
step_no = st.slider("Step", 1, len(result.steps), 1, key=state.key("learn", "step"))
step = result.steps[step_no - 1]
st.markdown(
    f"**Step {step_no} of {len(result.steps)}**: window at row {step.row}, column {step.col} of the "
    f"{'padded ' if padding == 'same' else ''}input → output cell ({step.out_row}, {step.out_col}) = "
    f"sum of the products = **{step.value:g}**"
)
partial = np.full(result.output.shape, np.nan)
for s in result.steps[:step_no]:
    partial[s.out_row, s.out_col] = s.value
c1, c2, c3 = st.columns([3, 2, 3])
c1.plotly_chart(
    charts.grid(result.padded, "input" + (" with zero padding" if padding == "same" else ""), (step.row, step.col, k)),
    width="stretch",
    key=state.key("learn", "input"),
)
c2.plotly_chart(
    charts.grid(step.products, f"window × kernel, sum {step.value:g}", colorscale="RdBu", zmid=0, height=220),
    width="stretch",
    key=state.key("learn", "products"),
)
c3.plotly_chart(
    charts.grid(partial, "feature map so far", cells=[(step.out_row, step.out_col)], colorscale="Blues"),
    width="stretch",
    key=state.key("learn", "partial"),
)

st.subheader("Pooling, then flattening")
c1, c2 = st.columns(2)
mode = c1.radio("Pooling", ["max", "average"], horizontal=True, key=state.key("learn", "pool"))
fmap = result.output
if min(fmap.shape) < 2:
    st.info("The feature map is smaller than 2×2: nothing to pool. Try 'same' padding or stride 1.")
    halt()
pooled = convolution.pool(fmap, 2, mode="max" if mode == "max" else "avg")
c1.plotly_chart(
    charts.grid(fmap, "full feature map (winners ringed)", cells=pooled.chosen, colorscale="Blues"),
    width="stretch",
    key=state.key("learn", "fmap"),
)
c2.plotly_chart(
    charts.grid(pooled.output, f"2×2 {mode} pooling → {pooled.output.shape[0]}×{pooled.output.shape[1]}", colorscale="Blues"),
    width="stretch",
    key=state.key("learn", "pooled"),
)
flat = pooled.output.reshape(1, -1)
st.plotly_chart(
    charts.grid(flat, f"flattened: the {flat.shape[1]} numbers a Dense layer receives", colorscale="Blues", height=110),
    width="stretch",
    key=state.key("learn", "flat"),
)

st.subheader("How many parameters?")
c1, c2 = st.columns(2)
with c1:
    st.markdown("**Conv2D**")
    a, b, c = st.columns(3)
    ck = a.number_input("kernel size", 1, 11, 3, key=state.key("learn", "ck"))
    cin = b.number_input("input channels", 1, 2048, 1, key=state.key("learn", "cin"))
    filters = c.number_input("filters", 1, 2048, 32, key=state.key("learn", "cf"))
    st.code(formulas.conv_params(int(ck), int(cin), int(filters)).spelled, language=None, wrap_lines=True)
with c2:
    st.markdown("**Dense**")
    a, b = st.columns(2)
    inputs = a.number_input("inputs", 1, 10_000_000, 576, key=state.key("learn", "din"))
    units = b.number_input("units", 1, 100_000, 64, key=state.key("learn", "du"))
    st.code(formulas.dense_params(int(inputs), int(units)).spelled, language=None, wrap_lines=True)
st.page_link(
    "pages/visualize.py",
    label="See a trained model's own filters applied to real images (Visualize)",
    icon=":material/visibility:",
)
