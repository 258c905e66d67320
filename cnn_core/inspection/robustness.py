"""How a prediction holds up: an image turned, shifted, scaled, with less contrast, noise or a
covered patch; the occlusion-sensitivity map; and a run's accuracy against rotation and noise.

All work on the model's own input, `uint8` (h, w, c), and never change the caller's array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from cnn_core.inspection.evaluation import predict_split


def fill_value(image: np.ndarray) -> np.ndarray:
    """The covering patch's colour: the image's mean, so the patch hides without adding a feature
    (a grey patch on a dark digit image is itself a bright blob)."""
    return np.round(np.asarray(image, np.float32).reshape(-1, image.shape[-1]).mean(0)).astype(np.uint8)


@dataclass(frozen=True)
class Change:
    """One set of slider values; the identity by default."""

    rotate: float = 0.0  # degrees, counter-clockwise
    shift_x: float = 0.0  # fraction of the width, right is positive
    shift_y: float = 0.0  # fraction of the height, down is positive
    scale: float = 1.0
    contrast: float = 1.0  # 1 keeps it; 0 makes every pixel the image's mean
    noise: float = 0.0  # standard deviation, as a fraction of 255
    occlude: float = 0.0  # side of a square in the image's mean colour, as a fraction of the image's side
    occlude_x: float = 0.5  # its centre, as fractions of the width and height
    occlude_y: float = 0.5
    seed: int = 0

    def apply(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, np.uint8)
        h, w, c = image.shape
        out = image.astype(np.float32)
        if self.rotate or self.shift_x or self.shift_y or self.scale != 1.0:
            out = _affine(image, self.rotate, self.shift_x * w, self.shift_y * h, self.scale).astype(np.float32)
        if self.contrast != 1.0:
            out = out.mean() + self.contrast * (out - out.mean())
        if self.noise:
            out = out + np.random.default_rng(self.seed).normal(0, self.noise * 255, out.shape)
        if self.occlude:
            side = max(1, round(self.occlude * min(h, w)))
            top = int(np.clip(round(self.occlude_y * h - side / 2), 0, h - side))
            left = int(np.clip(round(self.occlude_x * w - side / 2), 0, w - side))
            out[top : top + side, left : left + side] = fill_value(image)
        return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _affine(image: np.ndarray, degrees: float, dx: float, dy: float, scale: float) -> np.ndarray:
    """Rotate and scale about the centre, then shift; the background is the image's border colour."""
    h, w, c = image.shape
    fill = tuple(int(v) for v in np.median(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]), axis=0))
    pil = Image.fromarray(image.squeeze(-1) if c == 1 else image)
    turned = pil.rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor=fill[0] if c == 1 else fill)
    # Pillow's affine maps output to input coordinates: the inverse of scaling, then shifting
    a = 1 / scale
    cx, cy = w / 2, h / 2
    matrix = (a, 0, cx - a * (cx + dx), 0, a, cy - a * (cy + dy))
    moved = turned.transform((w, h), Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR,
                             fillcolor=fill[0] if c == 1 else fill)  # fmt: skip
    return np.asarray(moved, np.uint8).reshape(h, w, c)


def occlusion_map(model, image: np.ndarray, target: int, patch: int | None = None, stride: int | None = None) -> np.ndarray:
    """How much the probability of `target` drops when a patch of the image's mean colour covers
    each place: an (h, w) map (positive: covering there hurts), from batched forward passes."""
    image = np.asarray(image, np.uint8)
    h, w, _ = image.shape
    patch = patch or max(2, min(h, w) // 5)
    stride = stride or max(1, patch // 2)
    tops = list(range(0, max(1, h - patch + 1), stride))
    lefts = list(range(0, max(1, w - patch + 1), stride))
    if tops[-1] != h - patch:
        tops.append(max(0, h - patch))
    if lefts[-1] != w - patch:
        lefts.append(max(0, w - patch))
    batch = np.repeat(image[None], len(tops) * len(lefts) + 1, axis=0)  # the last one stays whole
    fill = fill_value(image)
    places = [(t, left) for t in tops for left in lefts]
    for k, (t, left) in enumerate(places):
        batch[k, t : t + patch, left : left + patch] = fill
    probs = predict_split(model, batch)
    base = probs[-1, target]
    drop_sum, count = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    for k, (t, left) in enumerate(places):
        drop_sum[t : t + patch, left : left + patch] += base - probs[k, target]
        count[t : t + patch, left : left + patch] += 1
    return drop_sum / np.maximum(count, 1)


def robustness_curve(model, images: np.ndarray, labels: np.ndarray, angles=(0, 10, 20, 30, 45, 60, 90),
                     noises=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5)) -> dict[str, list[tuple[float, float]]]:  # fmt: skip
    """Accuracy on `images` with every image turned by each angle, and with each noise level."""

    def accuracy(change: Change) -> float:
        changed = np.stack([change.apply(im) for im in images])
        probs = predict_split(model, changed)
        return float((probs.argmax(1) == labels).mean())

    return {
        "rotation": [(float(a), accuracy(Change(rotate=a))) for a in angles],
        "noise": [(float(n), accuracy(Change(noise=n))) for n in noises],
    }
