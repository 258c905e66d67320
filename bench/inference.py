"""Latency of what the Visualize and Predict pages do for one image, after the first call:
feature maps of every convolution and pooling layer (goal < 300 ms median), and one drawn digit
through preprocessing and the model (goal < 50 ms median); each against a plain Keras forward pass."""

from __future__ import annotations

import io
import time

import numpy as np

from bench.common import median, save, table

REPEATS = 50


def _timed(fn, repeats: int = REPEATS) -> tuple[float, float]:
    """(first call, median of the following calls) in milliseconds."""
    start = time.perf_counter()
    fn()
    first = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return first, median(times)


def drawn_digit() -> bytes:
    """A canvas-like drawing: a thick dark '7' on white, 280x280 PNG, as the canvas sends it."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.line([(60, 60), (220, 60), (120, 240)], fill=(0, 0, 0, 255), width=22)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def run() -> dict:
    from cnn_core.inspection.maps import Inspector
    from cnn_core.inspection.preprocess import prepare
    from cnn_core.model.architectures import PRESETS
    from cnn_core.model.builder import build_model

    model = build_model(PRESETS["keras-mnist"], (28, 28, 1), 10)
    inspector = Inspector(model)
    image = np.random.default_rng(0).integers(0, 255, (28, 28, 1), dtype=np.uint8)
    plain_first, plain = _timed(lambda: model(image[None], training=False))
    maps_first, maps = _timed(lambda: inspector.feature_maps(image))
    png = drawn_digit()
    predict_first, predict = _timed(lambda: inspector.predict(prepare(png, (28, 28, 1), digits=True)))
    prep_first, prep = _timed(lambda: prepare(png, (28, 28, 1), digits=True))
    figures = {
        "plain_forward_ms": round(plain, 2),
        "feature_maps_first_ms": round(maps_first, 1),
        "feature_maps_median_ms": round(maps, 2),
        "predict_first_ms": round(predict_first, 1),
        "predict_median_ms": round(predict, 2),
        "preprocess_median_ms": round(prep, 2),
        "feature_maps_vs_plain": round(maps / plain, 2),
        "predict_vs_plain": round(predict / plain, 2),
    }
    table(
        f"One-image latency, keras-mnist, median of {REPEATS} after the first call",
        [
            ("plain Keras forward pass", f"{plain:.2f} ms"),
            (
                "feature maps, 5 layers (goal < 300 ms)",
                f"{maps:.2f} ms  (first call {maps_first:.0f} ms; {maps / plain:.2f}x plain)",
            ),
            (
                "predict a drawn digit: preprocess + model (goal < 50 ms)",
                f"{predict:.2f} ms  (first call {predict_first:.0f} ms; {predict / plain:.2f}x plain)",
            ),
            ("  of which preprocessing", f"{prep:.2f} ms"),
        ],
    )
    save("inference", figures)
    return figures
