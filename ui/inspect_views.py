"""Views of what a model sees for one image, shared by the Visualize and Predict pages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from cnn_core import charts
from cnn_core.data.images import montage
from cnn_core.inspection.maps import Inspector, colourise, filter_images, kernel_slices, normalise_maps, overlay
from ui import state, widgets
from ui.widgets import sharp


def prediction(inspector: Inspector, image: np.ndarray, class_names: list[str], key: str | None = None) -> np.ndarray:
    """Predicted class, confidence and the top-k bars; returns the probabilities. `key` tells apart
    two such charts on one page."""
    probs = inspector.predict(image)
    best = int(np.argmax(probs))
    st.metric("Prediction", f"{class_names[best]}  ·  {probs[best]:.1%}")
    st.plotly_chart(charts.probability_bars(class_names, probs, top=min(10, len(class_names))), width="stretch", key=key)
    return probs


def feature_maps(inspector: Inspector, image: np.ndarray, key: str) -> dict[str, np.ndarray]:
    """A grid of every channel of the chosen convolution or pooling layer."""
    maps = inspector.feature_maps(image)
    if not maps:
        st.info("This model has no convolution or pooling layers to show.")
        return maps
    name = st.selectbox(
        "Layer",
        list(maps),
        key=state.key("inspect", "layer", key),
        format_func=lambda n: f"{n} ({type(inspector.model.get_layer(n)).__name__}, {'×'.join(map(str, maps[n].shape))})",
    )
    channels = normalise_maps(maps[name])
    columns = min(16, math.ceil(math.sqrt(len(channels)) * 1.5))
    scale = max(1, 96 // max(channels.shape[1:3]))
    widgets.picture(
        st, montage(channels, columns=columns, scale=scale, pad=2),
        f"{len(channels)} feature maps of {name}, each stretched to its own range (bright = strong response)",
        f"A grid of the {len(channels)} feature maps of layer {name} for this image",
        download=f"feature-maps-{name}-{key}",
    )  # fmt: skip
    return maps


def filters(inspector: Inspector, key: str) -> None:
    """First-layer filters as pictures, and any convolution's weights as kernel slices."""
    if not inspector.conv_layers:
        return
    first = inspector.conv_layers[0]
    kernel = inspector.kernel(first.name)
    pictures = filter_images(kernel)
    scale = max(1, 40 // kernel.shape[0])
    widgets.picture(
        st, montage(pictures, columns=min(16, len(pictures)), scale=scale, pad=3),
        f"The {len(pictures)} filters of {first.name} ({kernel.shape[0]}×{kernel.shape[1]}, scaled to grey or colour)",
        f"The {len(pictures)} learned filters of the first convolution, {first.name}, as small pictures",
        download=f"filters-{first.name}-{key}",
    )  # fmt: skip
    names = [layer.name for layer in inspector.conv_layers]
    name = st.selectbox("Weights of a convolution layer", names, key=state.key("inspect", "kernel", key))
    kernel = inspector.kernel(name)
    tiles, columns = kernel_slices(kernel)
    widgets.picture(
        st, montage(tiles, columns=columns, scale=max(1, 30 // kernel.shape[0]), pad=2),
        f"{name}: rows are input channels, columns are filters (at most 16 of each); red negative, blue positive",
        f"The weights of layer {name}: one small square per input channel and filter, red negative and blue positive",
        download=f"weights-{name}-{key}",
    )  # fmt: skip


def filmstrip(loaded) -> None:
    """The first convolution's filters at each saved epoch, one row per epoch: how they formed."""
    from cnn_core.inspection.maps import filters_over_epochs
    from cnn_core.runs.store import RunStore

    frames = filters_over_epochs(RunStore().resolve(loaded.run_id), loaded.model)
    if len(frames) < 2:
        st.caption("The filmstrip needs at least two saved epochs.")
        return
    shown = [frames[i] for i in sorted({round(k) for k in np.linspace(0, len(frames) - 1, min(12, len(frames)))})]
    count = min(16, shown[0][1].shape[-1])
    scale = max(1, 28 // shown[0][1].shape[0])
    for epoch, kernel in shown:
        left, right = st.columns([2, 12])
        left.markdown(f"**epoch {epoch}**")
        right.image(montage(filter_images(kernel)[:count], columns=count, scale=scale, pad=2), clamp=True,
                    alt=f"The first {count} filters after epoch {epoch}")  # fmt: skip
    st.caption(
        f"The first {count} filters of the first convolution after each saved epoch (each filter scaled to its own "
        "range): watch them turn from noise into edge and blob detectors."
    )


def saliency(inspector: Inspector, image: np.ndarray, class_names: list[str], probs: np.ndarray, key: str) -> None:
    """Grad-CAM over the image for the predicted or a chosen class, and the input-gradient map."""
    best = int(np.argmax(probs))
    left, right = st.columns(2)
    index = left.selectbox(
        "Explain the class",
        range(len(class_names)),
        index=best,
        key=state.key("inspect", "explain", key),
        format_func=lambda i: f"{class_names[i]}" + (" (predicted)" if i == best else ""),
    )
    convs = [layer.name for layer in inspector.conv_layers]
    layer = right.selectbox(
        "Grad-CAM on layer",
        convs or [None],
        index=max(0, len(convs) - 1),
        key=state.key("inspect", "camlayer", key),
        help="The last convolution sees the most abstract features but at the coarsest resolution.",
    )
    cam, grad = inspector.grad_cam(image, index, layer), inspector.saliency(image, index)
    left, middle, right = st.columns(3)
    widgets.picture(left, sharp(image, 192), "input", "The input image")
    widgets.picture(middle, sharp(overlay(image, cam), 192), f"Grad-CAM for {class_names[index]}",
                    f"The input with a heat map over it: red where layer {layer} found the most evidence for {class_names[index]}",
                    download=f"grad-cam-{class_names[index]}-{key}")  # fmt: skip
    widgets.picture(right, sharp(colourise(grad, "hot"), 192), "input-gradient saliency",
                    f"Input-gradient saliency: bright pixels change the score of {class_names[index]} most",
                    download=f"saliency-{class_names[index]}-{key}")  # fmt: skip


def activation_stats(inspector: Inspector, maps: dict[str, np.ndarray]) -> None:
    if maps:
        st.dataframe(
            pd.DataFrame(inspector.activation_stats(maps)),
            hide_index=True,
            width="stretch",
            column_config={
                "inactive": st.column_config.ProgressColumn("units at zero", format="percent", min_value=0, max_value=1),
                "mean": st.column_config.NumberColumn(format="%.3f"),
                "max": st.column_config.NumberColumn(format="%.3f"),
            },
        )


def batch_predictions(model, uploads: list[tuple[str, bytes]], class_names: list[str], digits: bool, run_id: str) -> None:
    """A table of predictions for several uploaded images (errors on their own rows), as CSV too."""
    from cnn_core.inspection.preprocess import predict_many

    entries = predict_many(model, uploads, class_names, digits)
    rows = pd.DataFrame(
        [
            {
                "image": e["image"],
                "predicted": e.get("predicted", ""),
                "confidence": e.get("confidence"),
                "runner-up": e["top"][1]["class"] if len(e.get("top", [])) > 1 else "",
                "error": e.get("error", ""),
            }
            for e in entries
        ]
    )
    readable = int(rows["error"].eq("").sum())
    st.markdown(f"**{readable} of {len(rows)} images classified** by run `{run_id}`.")
    st.dataframe(
        rows, hide_index=True, width="stretch",
        column_config={"confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="percent")},
    )  # fmt: skip
    st.download_button(
        "Download the predictions (CSV)", rows.to_csv(index=False), file_name=f"predictions-{run_id}.csv", mime="text/csv",
        icon=":material/download:", key=state.key("predict", "csv"),
    )  # fmt: skip


def robustness(inspector: Inspector, image: np.ndarray, class_names: list[str], key: str) -> None:
    """Sliders that turn, shift, scale, fade, add noise to and cover the image, with the prediction
    following; and the occlusion-sensitivity map."""
    from cnn_core.inspection.robustness import Change, occlusion_map

    def slider(column, label, low, high, default, step, name, help_text):
        return column.slider(label, low, high, default, step, key=state.key("inspect", "robust", key, name), help=help_text)

    c = st.columns(4)
    change = Change(
        rotate=slider(c[0], "Turn (degrees)", -90.0, 90.0, 0.0, 5.0, "rotate", "Counter-clockwise; training with rotation augmentation makes this matter less."),
        shift_x=slider(c[1], "Shift right", -0.5, 0.5, 0.0, 0.05, "shift_x", "As a fraction of the width."),
        shift_y=slider(c[2], "Shift down", -0.5, 0.5, 0.0, 0.05, "shift_y", "As a fraction of the height."),
        scale=slider(c[3], "Scale", 0.5, 1.5, 1.0, 0.05, "scale", "Below 1 shrinks the image towards its centre."),
        contrast=slider(c[0], "Contrast", 0.0, 2.0, 1.0, 0.05, "contrast", "1 keeps the image; 0 makes it one flat colour."),
        noise=slider(c[1], "Noise", 0.0, 0.5, 0.0, 0.02, "noise", "Random noise, its spread as a fraction of the brightness range."),
        occlude=slider(c[2], "Cover a square", 0.0, 0.6, 0.0, 0.05, "occlude", "Its side as a fraction of the image, in the image's mean colour."),
        occlude_x=slider(c[3], "…at across", 0.0, 1.0, 0.5, 0.05, "occlude_x", "Where the square's centre is, left to right."),
        occlude_y=slider(c[3], "…and down", 0.0, 1.0, 0.5, 0.05, "occlude_y", "Where the square's centre is, top to bottom."),
    )  # fmt: skip
    changed = change.apply(image)
    left, right = st.columns([1, 2])
    widgets.picture(left, sharp(changed, 192), "the changed image the model sees",
                    "The image after the turn, shift, scale, contrast, noise and cover chosen above")  # fmt: skip
    with right:
        prediction(inspector, changed, class_names, key=state.key("inspect", "robust", key, "bars"))
    if st.toggle(
        "Occlusion map: where covering the image hurts the prediction most", key=state.key("inspect", "robust", key, "map")
    ):
        target = int(np.argmax(inspector.predict(image)))
        drop = occlusion_map(inspector.model, image, target)
        scaled = np.clip(drop / max(float(np.abs(drop).max()), 1e-6), 0, 1)
        a, b = st.columns(2)
        widgets.picture(a, sharp(overlay(image, scaled), 192), f"red: covering here lowers {class_names[target]} most (up to {drop.max():.0%})",
                        f"Occlusion map: red where covering the image lowers the probability of {class_names[target]} most",
                        download=f"occlusion-{class_names[target]}-{key}")  # fmt: skip
        b.caption(
            "A patch of the image's mean colour slides over the original image; each place shows how much the "
            f"probability of {class_names[target]} drops while it is covered. All positions go through the model "
            "in one batch."
        )


def maximisation(loaded) -> None:
    """The input that most excites each filter of a layer, or each class: a grid, computed on request."""
    from cnn_core.inspection.maximise import maximise

    inspector, names = loaded.inspector, loaded.dataset.class_names
    layers = [None, *[layer.name for layer in inspector.conv_layers]]
    layer = st.selectbox("Excite", layers, key=state.key("inspect", "maxim", "layer"),
                         format_func=lambda n: "each class" if n is None else f"each filter of {n}")  # fmt: skip
    key = state.key("inspect", "maxim", loaded.run_id, loaded.epoch, layer or "classes")
    if state.get(key) is None:
        st.caption("Gradient ascent from a grey image, 120 steps, all at once; blur, jitter and a pull towards grey keep "
                   "the pictures readable (as tf-keras-vis and DIGITS do). A few seconds for a small model.")  # fmt: skip
        if not st.button("Find them", icon=":material/auto_awesome:", key=state.key("inspect", "maxim", "go")):
            return
        with widgets.progress_bar() as progress:
            state.put(key, maximise(inspector.model, layer, progress=progress))
    images = state.get(key)
    labels = names[: len(images)] if layer is None else [f"filter {i}" for i in range(len(images))]
    widgets.image_grid(list(images), labels, size=72)
    st.download_button("PNG", widgets.png_bytes(montage(images, columns=min(16, len(images)), scale=max(1, 48 // images.shape[1]), pad=2)),
                       f"maximisation-{layer or 'classes'}.png", "image/png", icon=":material/download:",
                       key=state.key("inspect", "maxim", "png"), on_click="ignore")  # fmt: skip
