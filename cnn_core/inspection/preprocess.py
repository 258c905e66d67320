"""A drawn or uploaded image → the model's input, the way the training images were made.

For MNIST-like data (light strokes on a dark background) the image is inverted when it is dark
on light, cropped to its strokes, scaled into a box of 20/28 of the side and centred by centre
of mass, as MNIST itself was made. Other images are centre-cropped to the model's aspect ratio
and resized. `prepare` returns the array the model receives, which the page shows as
"what the model sees".
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from cnn_core.data.images import ImageSource, looks_like_digits, open_image, to_channels  # noqa: F401 - re-exported

DIGIT_BOX = 20 / 28  # MNIST digits fit a 20x20 box inside 28x28


def needs_inversion(gray: np.ndarray) -> bool:
    """True when the background (the border's median) is lighter than mid-grey: dark ink on paper."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(border)) > 127


def centre_of_mass(gray: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre."""
    total = gray.sum(dtype=np.float64)
    if total == 0:
        return (gray.shape[0] - 1) / 2, (gray.shape[1] - 1) / 2
    rows, cols = np.indices(gray.shape)
    return float((rows * gray).sum() / total), float((cols * gray).sum() / total)


def mnist_style(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Light-on-dark `uint8` (h, w): crop to the strokes, fit the box, centre by centre of mass."""
    h, w = size
    mask = gray > 0.2 * gray.max() if gray.max() > 0 else np.zeros_like(gray, bool)
    if not mask.any():
        return np.zeros((h, w), np.uint8)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box = max(1, round(min(h, w) * DIGIT_BOX))
    scale = box / max(crop.shape)
    new = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    digit = np.asarray(Image.fromarray(crop).resize(new, Image.Resampling.LANCZOS), np.float64).clip(0, 255)
    canvas = np.zeros((h, w), np.float64)
    cy, cx = centre_of_mass(digit)
    top = int(round((h - 1) / 2 - cy))
    left = int(round((w - 1) / 2 - cx))
    top, left = min(max(top, 0), h - digit.shape[0]), min(max(left, 0), w - digit.shape[1])
    canvas[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return canvas.round().astype(np.uint8)


def fit_rgb(img: Image.Image, size: tuple[int, int], channels: int) -> np.ndarray:
    """Centre-crop to the target aspect ratio (nothing squashed), then resize."""
    h, w = size
    img = to_channels(img, channels)
    src_w, src_h = img.size
    target_ratio = w / h
    if src_w / src_h > target_ratio:
        new_w = round(src_h * target_ratio)
        box = ((src_w - new_w) // 2, 0, (src_w - new_w) // 2 + new_w, src_h)
    else:
        new_h = round(src_w / target_ratio)
        box = (0, (src_h - new_h) // 2, src_w, (src_h - new_h) // 2 + new_h)
    out = img.resize((w, h), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    return np.asarray(out, np.uint8).reshape(h, w, channels)


def prepare(source: ImageSource | Image.Image, input_shape: tuple[int, int, int], digits: bool) -> np.ndarray:
    """The model's input (h, w, c) `uint8` for an image file, bytes or a Pillow image.

    `digits`: the dataset is MNIST-like (grayscale, light on dark), so use `mnist_style`.
    """
    h, w, c = input_shape
    img = source if isinstance(source, Image.Image) else open_image(source, target=(w * 4, h * 4))
    if digits and c == 1:
        gray = np.asarray(to_channels(img, 1), np.uint8)
        if needs_inversion(gray):
            gray = 255 - gray
        return mnist_style(gray, (h, w))[..., None]
    return fit_rgb(img, (h, w), c)


def predict_many(model, sources: list[tuple[str, ImageSource]], class_names: list[str], digits: bool, top: int = 3) -> list[dict]:
    """Classify many images in batches: one entry per (name, source), in order, each with "image"
    (the name) and "predicted", "confidence" and "top", or "error" for an image that cannot be read."""
    from cnn_core.errors import StudioError
    from cnn_core.inspection.evaluation import predict_split
    from cnn_core.model.modelio import model_shapes

    shape, _ = model_shapes(model)
    entries, inputs = [], []
    for name, source in sources:
        try:
            inputs.append(prepare(source, shape, digits))
            entries.append({"image": name})
        except (StudioError, OSError) as exc:
            entries.append({"image": name, "error": str(exc)})
    good = [e for e in entries if "error" not in e]
    probs = predict_split(model, np.stack(inputs), batch_size=64) if inputs else []
    for entry, p in zip(good, probs):
        ranked = [{"class": class_names[i], "probability": float(p[i])} for i in np.argsort(-p)[:top]]
        entry |= {"predicted": ranked[0]["class"], "confidence": ranked[0]["probability"], "top": ranked}
    return entries
