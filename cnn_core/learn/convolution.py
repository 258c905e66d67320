"""Convolution, padding, stride and pooling in plain numpy, with every intermediate value.

Follows Keras' conventions exactly (cross-correlation, no kernel flip; 'same' padding puts the
extra row or column at the bottom and right), so the Learn page's numbers are the ones a
`Conv2D` or `MaxPooling2D` layer would compute. Tests check that against Keras.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnn_core.model.formulas import output_size, same_padding

SEVEN = np.array(
    [  # the 6x6 "7" of the reference tutorial's walk-through
        [0, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 1, 0],
        [0, 0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0, 0],
        [0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0],
    ],
    dtype=float,
)

KERNELS = {
    "vertical edge": np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], float),
    "horizontal edge": np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
}


def pad(image: np.ndarray, k: int, stride: int, padding: str) -> tuple[np.ndarray, tuple[int, int]]:
    """The padded 2-D (or h, w, c) image and the (top, left) offset of the original in it."""
    if padding == "valid":
        return image, (0, 0)
    top, bottom = same_padding(image.shape[0], k, stride)
    left, right = same_padding(image.shape[1], k, stride)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, widths), (top, left)


@dataclass
class Step:
    """One position of the window: where it is, what it covers, the products and their sum."""

    out_row: int
    out_col: int
    row: int  # top-left corner in the padded image
    col: int
    window: np.ndarray
    products: np.ndarray
    value: float


@dataclass
class ConvResult:
    padded: np.ndarray
    offset: tuple[int, int]
    output: np.ndarray
    steps: list[Step]


def convolve(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid", bias: float = 0.0) -> ConvResult:
    """One 2-D channel and one k×k kernel, step by step (cross-correlation, as Keras computes)."""
    k = kernel.shape[0]
    padded, offset = pad(np.asarray(image, float), k, stride, padding)
    oh, ow = output_size(image.shape[0], k, stride, padding), output_size(image.shape[1], k, stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"a {k}x{k} kernel does not fit a {image.shape[0]}x{image.shape[1]} image without padding")
    output, steps = np.zeros((oh, ow)), []
    for i in range(oh):
        for j in range(ow):
            r, c = i * stride, j * stride
            window = padded[r : r + k, c : c + k]
            products = window * kernel
            output[i, j] = products.sum() + bias
            steps.append(Step(i, j, r, c, window, products, float(output[i, j])))
    return ConvResult(padded, offset, output, steps)


def conv2d(x: np.ndarray, kernels: np.ndarray, bias: np.ndarray, stride: int = 1, padding: str = "valid") -> np.ndarray:
    """Many channels, many filters: x (h, w, c_in), kernels (k, k, c_in, c_out) → (h', w', c_out)."""
    k = kernels.shape[0]
    padded, _ = pad(np.asarray(x, float), k, stride, padding)
    oh, ow = output_size(x.shape[0], k, stride, padding), output_size(x.shape[1], k, stride, padding)
    out = np.zeros((oh, ow, kernels.shape[3]))
    for i in range(oh):
        for j in range(ow):
            window = padded[i * stride : i * stride + k, j * stride : j * stride + k, :]
            out[i, j] = np.tensordot(window, kernels, axes=([0, 1, 2], [0, 1, 2])) + bias
    return out


@dataclass
class PoolResult:
    output: np.ndarray
    chosen: list[tuple[int, int]]  # for max pooling: the input cell each output came from


def pool(x: np.ndarray, size: int = 2, stride: int | None = None, mode: str = "max", padding: str = "valid") -> PoolResult:
    """Max or average pooling of a 2-D map (or each channel of h, w, c), recording the winners."""
    stride = stride or size
    if padding == "same":  # Keras pads pools with values that never win: -inf for max, ignored for average
        x_pad, (top, left) = pad(np.asarray(x, float), size, stride, "same")
        mask, _ = pad(np.ones(x.shape, float), size, stride, "same")
    else:
        x_pad, (top, left), mask = np.asarray(x, float), (0, 0), np.ones(x.shape, float)
    oh, ow = output_size(x.shape[0], size, stride, padding), output_size(x.shape[1], size, stride, padding)
    out, chosen = np.zeros((oh, ow, *x.shape[2:])), []
    for i in range(oh):
        for j in range(ow):
            r, c = i * stride, j * stride
            window, valid = x_pad[r : r + size, c : c + size], mask[r : r + size, c : c + size] > 0
            if mode == "max":
                out[i, j] = np.where(valid, window, -np.inf).max(axis=(0, 1))
                if x.ndim == 2:
                    a, b = np.unravel_index(np.argmax(np.where(valid, window, -np.inf)), window.shape)
                    chosen.append((r + a - top, c + b - left))
            else:
                out[i, j] = (window * valid).sum(axis=(0, 1)) / valid.sum(axis=(0, 1))
    return PoolResult(out, chosen)
