"""Turn a plan (see `summary.plan`) into a Keras model. The only module here that builds layers."""

from __future__ import annotations

from cnn_core.architectures import ArchitectureSpec
from cnn_core.errors import StudioError
from cnn_core.summary import Plan, machine_memory_bytes, plan

MAX_PARAMS = 250_000_000  # 1 GB of float32 weights: beyond this, refuse before allocating anything

BN_MOMENTUM = 0.9


def _keras_layer(info, keras):
    c, L = info.config, keras.layers
    kind = info.type
    if kind == "Rescaling":
        return L.Rescaling(c["scale"], name=info.name)
    if kind == "Conv2D":
        return L.Conv2D(
            c["filters"], c["kernel_size"], strides=c["strides"], padding=c["padding"], activation=c["activation"], name=info.name
        )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return getattr(L, kind)(c["pool_size"], strides=c["strides"], padding=c["padding"], name=info.name)
    if kind == "Dense":
        return L.Dense(c["units"], activation=c["activation"], name=info.name)
    if kind == "Dropout":
        return L.Dropout(c["rate"], name=info.name)
    if kind == "Activation":
        return L.Activation(c["activation"], name=info.name)
    if kind == "BatchNormalization":
        # momentum 0.9 (Keras' default is 0.99): the averages used at test time catch up within tens of
        # batches, so a small dataset or a short run is not judged with stale statistics
        return L.BatchNormalization(momentum=BN_MOMENTUM, name=info.name)
    return getattr(L, kind)(name=info.name)  # Flatten, GlobalAveragePooling2D


def check_size(model_plan: Plan, batch_size: int = 32) -> None:
    """Refuse a model too large to build here, naming its size."""
    if model_plan.total_params > MAX_PARAMS:
        raise StudioError(
            f"this model would have {model_plan.total_params:,} parameters ({model_plan.size_mb:,.0f} MB of weights); "
            f"the limit is {MAX_PARAMS:,}. Use a smaller image size or pooling layers that downsample."
        )
    need = model_plan.training_memory_bytes(batch_size)
    if need > 0.8 * machine_memory_bytes():
        raise StudioError(
            f"training this model at batch size {batch_size} needs about {need / 2**30:.1f} GB, more than this machine "
            f"has ({machine_memory_bytes() / 2**30:.0f} GB). Lower the batch size or the image size."
        )


def build_model(
    spec: ArchitectureSpec, input_shape, num_classes: int, dropout: float | None = None, augmentation=None, batch_size: int = 32
):
    """A `keras.Model` for the dataset: uint8 images in, class probabilities out.

    `augmentation` is a list of Keras preprocessing layers placed right after the input; Keras
    runs them only while training.
    """
    import keras

    model_plan = plan(spec, tuple(input_shape), num_classes, dropout)
    check_size(model_plan, batch_size)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for layer in augmentation or []:
        x = layer(x)
    for info in model_plan.layers:
        x = _keras_layer(info, keras)(x)
    return keras.Model(inputs, x, name=spec.id.replace(" ", "_"))
