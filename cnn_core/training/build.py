"""The model a training session trains: built from the run's architecture with the recipe's layers
and augmentation, started from a parent's weights when fine-tuning, compiled with the recipe's
optimizer, schedule and loss (see `recipe`, which the exported script carries too)."""

from __future__ import annotations

from cnn_core import recipe
from cnn_core.settings.config import ArchChoice, TrainConfig
from cnn_core.training import schedules


def prepare_tensorflow() -> None:
    """Import TensorFlow, Keras and the training modules in the calling thread.

    A module imported for the first time inside a worker thread while another thread imports it
    can fail as "partially initialized", so the script thread does it before starting a job.
    """
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    import cnn_core.model.builder  # noqa: F401
    import cnn_core.training.callbacks  # noqa: F401


def choose_strategy():
    """MirroredStrategy over several GPUs; otherwise TensorFlow's default strategy."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def make_optimizer(config: TrainConfig, steps: int):
    """The configured Keras optimizer (the recipe's), its rate following the configured schedule."""
    return recipe.make_optimizer(config, schedules.keras_schedule(config, steps))


def compile_run_model(model, config: TrainConfig, steps: int):
    """Compile with the recipe's loss and metrics and the configured optimizer and schedule."""
    return recipe.compile_model(model, make_optimizer(config, steps))


augmentation_layers = recipe.augmentation_layers  # Keras preprocessing layers, active only while training


def build_run_model(
    arch: ArchChoice, input_shape, num_classes: int, config: TrainConfig, freeze: bool = False, precision: str = "float32"
):
    """The run's Keras model (augmentation first), uncompiled; frozen convolutions when `freeze`;
    `precision` is a resolved one, "float32" or "bfloat16" (see precision.py), never "auto"."""
    from cnn_core.model.builder import build_model
    from cnn_core.training.transfer import freeze as freeze_layers

    model = build_model(
        arch.spec(), input_shape, num_classes, config.dropout, augmentation_layers(config), config.batch_size, precision
    )
    freeze_layers(model, freeze)
    return model
