"""Turn a plan (see `summary.plan`) into a Keras model, with the recipe's layers (`recipe.keras_layer`)."""

from __future__ import annotations

from cnn_core import recipe
from cnn_core.errors import StudioError
from cnn_core.model.architectures import ArchitectureSpec
from cnn_core.model.summary import Plan, machine_memory_bytes, plan

MAX_PARAMS = 250_000_000  # 1 GB of float32 weights: beyond this, refuse before allocating anything

BN_MOMENTUM = recipe.BN_MOMENTUM


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
    spec: ArchitectureSpec,
    input_shape,
    num_classes: int,
    dropout: float | None = None,
    augmentation=None,
    batch_size: int = 32,
    precision: str = "float32",
):
    """A `keras.Model` for the dataset: uint8 images in, class probabilities out.

    `augmentation` is a list of Keras preprocessing layers placed right after the input; Keras
    runs them only while training. `precision` "bfloat16" gives each layer but the classifier the
    mixed bfloat16 policy (see `recipe.build_model`).
    """
    model_plan = plan(spec, tuple(input_shape), num_classes, dropout)
    check_size(model_plan, batch_size)
    layer_specs = [(info.type, info.config, info.name) for info in model_plan.layers]
    return recipe.build_model(layer_specs, input_shape, augmentation or [], name=spec.id.replace(" ", "_"), precision=precision)


def float32_copy(model):
    """`model` itself when every layer computes in float32; else a copy whose mixed layers compute in
    float32, with the same (float32) weights: what model.keras, TFLite and SavedModel receive."""
    if not any(layer.dtype_policy.name.startswith("mixed_") for layer in model.layers):
        return model
    config = model.get_config()
    for layer in config["layers"]:
        dtype = layer["config"].get("dtype")
        if isinstance(dtype, dict) and str(dtype.get("config", {}).get("name", "")).startswith("mixed_"):
            layer["config"]["dtype"] = "float32"
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy
