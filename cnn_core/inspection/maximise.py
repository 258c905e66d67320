"""Activation maximisation: the input that most excites each filter of a layer, or each class, found
by gradient ascent from a grey image with the regularisers tf-keras-vis and DIGITS use: an L2 pull
towards grey, small random shifts (jitter) and a blur every few steps, so the picture shows
patterns rather than high-frequency noise. All filters (or classes) are optimised in one batch.
"""

from __future__ import annotations

import numpy as np

from cnn_core.errors import StudioError
from cnn_core.progress import Progress, Report


def _objective(model, layer: str | None):
    """A function images -> (batch, units) whose column k is what unit k should maximise."""
    import keras

    if layer is None:  # classes: the output layer's scores before softmax
        head = model.layers[-1]
        features = keras.Model(model.inputs, head.input)
        return lambda x: keras.ops.matmul(features(x, training=False), head.kernel) + head.bias, int(head.units)
    try:
        target = model.get_layer(layer)
    except ValueError:
        raise StudioError(f"the model has no layer {layer!r}") from None
    if len(target.output.shape) != 4:
        raise StudioError(f"{layer} is not a convolution or pooling layer: it has no filters to show")
    inner = keras.Model(model.inputs, target.output)
    return lambda x: keras.ops.mean(inner(x, training=False), axis=(1, 2)), int(target.output.shape[-1])


def maximise(model, layer: str | None = None, units: list[int] | None = None, steps: int = 120, rate: float = 8.0,
             seed: int = 0, progress: Report | None = None) -> np.ndarray:  # fmt: skip
    """`uint8` images (n, h, w, c), one per unit (filter of `layer`, or class when `layer` is None)."""
    import tensorflow as tf

    score, count = _objective(model, layer)
    units = list(range(min(count, 32))) if units is None else units
    h, w, c = (int(d) for d in model.inputs[0].shape[1:])
    rng = np.random.default_rng(seed)
    x = tf.Variable(128 + rng.normal(0, 8, (len(units), h, w, c)).astype(np.float32))
    pick = tf.one_hot(units, count)
    blur = tf.constant(np.full((3, 3, c, 1), 1 / 9, np.float32))
    counter = Progress(steps, "steps of gradient ascent", progress)
    for step in range(steps):
        with tf.GradientTape() as tape:
            gain = tf.reduce_sum(score(x) * pick, axis=1)
            loss = -tf.reduce_sum(gain) + 1e-4 * tf.reduce_sum(tf.square(x - 128.0))
        grad = tape.gradient(loss, x)
        grad = grad / (tf.sqrt(tf.reduce_mean(tf.square(grad), axis=(1, 2, 3), keepdims=True)) + 1e-8)
        x.assign_sub(rate * grad)
        shift = rng.integers(-1, 2, 2)
        x.assign(tf.roll(x, shift=[int(shift[0]), int(shift[1])], axis=[1, 2]))  # jitter
        if step % 10 == 9:
            x.assign(tf.nn.depthwise_conv2d(x, blur, [1, 1, 1, 1], "SAME"))
        x.assign(tf.clip_by_value(x, 0.0, 255.0))
        counter.advance()
    images = x.numpy()
    lo = images.min(axis=(1, 2, 3), keepdims=True)
    span = np.maximum(images.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-6)
    return np.round((images - lo) / span * 255).astype(np.uint8)
