"""A generated RGB dataset of simple shapes: offline, deterministic for a seed, trains in seconds."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from cnn_core.data.loads import checkpoint
from cnn_core.progress import Progress, Report

SHAPE_CLASSES = ["circle", "square", "triangle", "cross", "star"]
CHUNK = 64  # images drawn between cancellation checks


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if kind == "triangle":
        corners = [(1.0, angle + k * 2 * math.pi / 3) for k in range(3)]
    elif kind == "square":
        corners = [(1.0, angle + math.pi / 4 + k * math.pi / 2) for k in range(4)]
    else:  # star: ten corners alternating between the outer and the inner radius
        corners = [(1.0 if k % 2 == 0 else 0.45, angle + k * math.pi / 5) for k in range(10)]
    return [(cx + r * s * math.cos(a), cy + r * s * math.sin(a)) for s, a in corners]


def _contrasting_colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A background and a foreground colour at least 120 apart in brightness."""
    while True:
        bg, fg = rng.integers(0, 256, size=(2, 3))
        if abs(int(bg.mean()) - int(fg.mean())) >= 120:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def draw_shape(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One `size`x`size` RGB image of `kind` at a random place, scale, angle and colouring."""
    scale = 4  # draw large, then downsample: smooth edges at any size
    big = size * scale
    bg, fg = _contrasting_colours(rng)
    img = Image.new("RGB", (big, big), bg)
    draw = ImageDraw.Draw(img)
    r = rng.uniform(0.18, 0.38) * big
    cx, cy = rng.uniform(r, big - r, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    elif kind == "cross":
        w = r * 0.35
        for a in (angle, angle + math.pi / 2):
            dx, dy = math.cos(a), math.sin(a)
            px, py = -dy * w, dx * w
            draw.polygon(
                [
                    (cx - dx * r + px, cy - dy * r + py),
                    (cx + dx * r + px, cy + dy * r + py),
                    (cx + dx * r - px, cy + dy * r - py),
                    (cx - dx * r - px, cy - dy * r - py),
                ],
                fill=fg,
            )
    else:
        draw.polygon(_polygon(kind, cx, cy, r, angle), fill=fg)
    return np.asarray(img.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)


def make_shapes(
    count: int = 2000, size: int = 32, seed: int = 0, progress: Report | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`count` images balanced over the shape classes: (images, labels, class names).

    Drawn into one preallocated array; a shared load may be cancelled between chunks, and
    `progress` hears how many are drawn.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(SHAPE_CLASSES)
    images = np.empty((count, size, size, 3), np.uint8)
    drawn = Progress(count, "images drawn", progress)
    for start in range(0, count, CHUNK):
        checkpoint()
        stop = min(count, start + CHUNK)
        for i in range(start, stop):
            images[i] = draw_shape(SHAPE_CLASSES[labels[i]], size, rng)
        drawn.advance(stop - start)
    return images, labels.astype(np.int64), list(SHAPE_CLASSES)
