"""A map of what the network learned: the penultimate layer's activations for the test split,
projected to 2-D (PCA at once; t-SNE on request), with the labels and predictions to colour them.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from dataclasses import dataclass

import numpy as np

from cnn_core.errors import StudioError
from cnn_core.inspection.evaluation import predict_split
from cnn_core.progress import Progress, Report

METHODS = {"pca": "PCA (instant)", "tsne": "t-SNE (slower; keeps neighbours together)"}
TSNE_ITERATIONS = 1000  # scikit-learn's default


@dataclass
class Embedding:
    points: np.ndarray  # (n, 2)
    labels: np.ndarray
    predicted: np.ndarray
    method: str
    explained: float | None = None  # PCA: the share of variance the two axes hold


def penultimate(model, images, batch_size: int = 256) -> np.ndarray:
    """The activations feeding the output layer, one row per image."""
    import keras

    if len(model.layers) < 2:
        raise StudioError("this model has no layer before its output")
    features = keras.Model(model.inputs, model.layers[-2].output)
    return predict_split(features, images, batch_size).reshape(len(images), -1)


def pca(features: np.ndarray) -> tuple[np.ndarray, float]:
    """The first two principal components (via SVD of the centred features) and their variance share."""
    centred = features - features.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variance = s**2
    return centred @ vt[:2].T, float(variance[:2].sum() / max(variance.sum(), 1e-12))


class _IterationLines(io.TextIOBase):
    """Reads scikit-learn's verbose t-SNE lines ("[t-SNE] Iteration 250: error = ...") as progress."""

    def __init__(self, counter: Progress):
        self.counter = counter

    def write(self, text: str) -> int:
        for match in re.finditer(r"Iteration (\d+):", text):
            self.counter.advance(max(0, int(match.group(1)) - self.counter.done))
        return len(text)


def tsne(features: np.ndarray, seed: int = 0, progress: Report | None = None) -> np.ndarray:
    """t-SNE with scikit-learn, after PCA to at most 50 dimensions (its own advice for speed).
    `progress` hears the iterations: scikit-learn has no callback, but reports every 50 of them
    when verbose, and those lines are read instead of printed."""
    from sklearn.manifold import TSNE

    reduced = features
    if features.shape[1] > 50:
        centred = features - features.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        reduced = centred @ vt[:50].T
    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    model = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, max_iter=TSNE_ITERATIONS, verbose=2)
    counter = Progress(TSNE_ITERATIONS, "t-SNE iterations", progress)
    with contextlib.redirect_stdout(_IterationLines(counter)):
        points = model.fit_transform(reduced)
    counter.advance(TSNE_ITERATIONS - counter.done)  # it may stop early, once it has converged
    return points


def embed(model, images, labels: np.ndarray, method: str = "pca", progress: Report | None = None) -> Embedding:
    """The 2-D map of `images` by `method` ("pca" or "tsne")."""
    if method not in METHODS:
        raise StudioError(f"unknown projection {method!r}; choose {', '.join(METHODS)}")
    if len(labels) < 3:
        raise StudioError("a map needs at least 3 images")
    features = penultimate(model, images)
    predicted = predict_split(model, images).argmax(1)
    if method == "pca":
        points, explained = pca(features)
        return Embedding(points, labels, predicted, method, explained)
    return Embedding(tsne(features, progress=progress), labels, predicted, method)


def sprite(images, max_pixels: int = 8_000_000, largest: int = 48) -> tuple[bytes, int, int, int]:
    """Every image as one square tile of a single PNG, row by row: the map's hover thumbnails in one
    download. Returns (PNG bytes, columns, rows, tile side); tiles shrink so the sheet stays under
    `max_pixels`."""
    from PIL import Image

    images = np.asarray(images if isinstance(images, np.ndarray) else images[np.arange(len(images))], np.uint8)
    n, h, w, c = images.shape
    tile = max(8, min(largest, max(h, w), int(math.sqrt(max_pixels / max(n, 1)))))
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    mode = "L" if c == 1 else "RGB"
    sheet = np.zeros((rows * tile, cols * tile, c), np.uint8)
    for k, image in enumerate(images):
        if (h, w) != (tile, tile):
            image = np.asarray(Image.fromarray(image.squeeze(-1) if c == 1 else image, mode).resize((tile, tile), Image.BILINEAR))
            image = image.reshape(tile, tile, c)
        r, q = divmod(k, cols)
        sheet[r * tile : (r + 1) * tile, q * tile : (q + 1) * tile] = image
    buf = io.BytesIO()
    Image.fromarray(sheet.squeeze(-1) if c == 1 else sheet, mode).save(buf, format="PNG")
    return buf.getvalue(), cols, rows, tile
