"""Input pipelines: `uint8` batches for Keras, in an order that a resumed run can repeat exactly.

Only indices go through tf.data; each batch is gathered from the split's own array (or decoded
from disk for folders larger than memory), so nothing is copied into TensorFlow. The training
order of epoch e is a permutation drawn from (seed, e) alone: a run paused in the middle of epoch
e, or killed after it, continues with the very batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math

import numpy as np

from cnn_core.data.datasets import Split
from cnn_core.data.ingest import ImageFiles


def epoch_order(size: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the training images in epoch `epoch` (0-based)."""
    return np.random.default_rng([seed, epoch]).permutation(size).astype(np.int64)


def steps_per_epoch(size: int, batch_size: int) -> int:
    return math.ceil(size / batch_size)


def _loader(split: Split):
    import tensorflow as tf

    images, labels = split.images, np.asarray(split.labels, np.int64)

    def gather(indices):
        indices = np.sort(indices) if isinstance(images, ImageFiles) else indices  # disk order for files
        return np.asarray(images[indices], np.uint8), labels[indices]

    def load(indices):
        x, y = tf.numpy_function(gather, [indices], [tf.uint8, tf.int64], stateful=False)
        return tf.ensure_shape(x, (None, *images.shape[1:])), tf.ensure_shape(y, (None,))

    return load


def training_batches(split: Split, batch_size: int, seed: int, first_epoch: int = 0, first_step: int = 0):
    """Endless batches for epochs `first_epoch`, `first_epoch + 1`, ..., each in its own seeded order;
    the first epoch starts at batch `first_step`. Give Keras `steps_per_epoch` with it."""
    import tensorflow as tf

    size, steps = len(split), steps_per_epoch(len(split), batch_size)

    def epoch_batches(epoch):
        order = tf.ensure_shape(tf.numpy_function(lambda e: epoch_order(size, seed, int(e)), [epoch], tf.int64), (size,))
        return tf.data.Dataset.range(steps).map(lambda k: order[k * batch_size : (k + 1) * batch_size])

    batches = tf.data.Dataset.range(first_epoch, 2**31 - 1).flat_map(epoch_batches)
    if first_step:
        batches = batches.skip(first_step)
    return batches.map(_loader(split), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def evaluation_batches(split: Split, batch_size: int):
    """The split once, in its stored order (validation and test)."""
    import tensorflow as tf

    batches = tf.data.Dataset.range(len(split)).batch(batch_size)
    return batches.map(_loader(split), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
