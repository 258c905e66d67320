"""Shapes, parameter counts and costs of an architecture, computed in plain Python.

`plan()` walks the adapted layer list the way Keras would build it, so the Model page can show
the summary table (with each count's formula) without importing TensorFlow, and the builder uses
the same plan so the two never disagree. Tests check the numbers against Keras.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from cnn_core.errors import StudioError
from cnn_core.model.architectures import ArchitectureSpec, adapt
from cnn_core.model.formulas import SPATIAL_LAYERS, batchnorm_params, conv_params, dense_params, output_size

BYTES_PER_FLOAT = 4


@dataclass
class LayerInfo:
    """One layer of a plan: its Keras name, output shape, parameters with their formula, and cost."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int = 0
    non_trainable: int = 0
    formula: str = ""
    macs: int = 0
    config: dict = field(default_factory=dict)

    @property
    def added(self) -> bool:
        return bool(self.config.get("added"))


@dataclass
class Plan:
    """An architecture laid out for one input shape and class count, as Keras would build it."""

    input_shape: tuple[int, int, int]
    layers: list[LayerInfo]

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def non_trainable_params(self) -> int:
        return sum(layer.non_trainable for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        return self.total_params - self.non_trainable_params

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def size_mb(self) -> float:
        return self.total_params * BYTES_PER_FLOAT / 2**20

    def training_memory_bytes(self, batch_size: int) -> int:
        """Rough peak for training with Adam: weights, gradients and two moment slots, plus every
        layer's activations and their gradients for one batch."""
        activations = sum(math.prod(layer.output_shape) for layer in self.layers) + math.prod(self.input_shape)
        return BYTES_PER_FLOAT * (4 * self.total_params + 2 * batch_size * activations)

    def table(self) -> list[dict]:
        """The Model page's summary table: one row per layer."""
        return [
            {
                "layer": layer.name,
                "type": layer.type + (" (added)" if layer.added else ""),
                "output shape": "(None, " + ", ".join(map(str, layer.output_shape)) + ")",
                "parameters": layer.params,
                "how it is computed": layer.formula,
            }
            for layer in self.layers
        ]


def machine_memory_bytes() -> int:
    """Physical memory of this machine (8 GB when it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def _snake(kind: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind).lower().replace("2_d", "2d")


def _where(layer: dict, name: str) -> str:
    return f"row {layer['row']} ({name})" if "row" in layer else name


def _spatial(layer: dict, shape: tuple, name: str) -> LayerInfo:
    h, w, c = shape
    conv = layer["type"] == "Conv2D"
    k = layer["kernel_size"] if conv else layer["pool_size"]
    s = layer["strides"] or k
    if layer["padding"] == "valid" and min(h, w) < k:
        raise StudioError(
            f"{_where(layer, name)}: its {k}x{k} window does not fit the {h}x{w} input it receives. "
            "Use padding 'same', remove an earlier pooling layer, or choose a larger image size on the Data page."
        )
    oh, ow = output_size(h, k, s, layer["padding"]), output_size(w, k, s, layer["padding"])
    if not conv:
        return LayerInfo(name, layer["type"], (oh, ow, c), config=layer)
    f = layer["filters"]
    count = conv_params(k, c, f)
    return LayerInfo(name, "Conv2D", (oh, ow, f), count.value, 0, count.compact, oh * ow * f * k * k * c, layer)


def _infer(layer: dict, shape: tuple, name: str) -> LayerInfo:
    kind = layer["type"]
    if kind in SPATIAL_LAYERS:
        if len(shape) != 3:
            raise StudioError(
                f"{_where(layer, name)}: {kind} needs an image-shaped input, but it follows a flat layer; move it before Flatten."
            )
        return _spatial(layer, shape, name)
    if kind == "Dense":
        if len(shape) != 1:
            raise StudioError(
                f"{_where(layer, name)}: Dense needs a flat input; add Flatten or GlobalAveragePooling2D before it."
            )
        n, u = shape[0], layer["units"]
        count = dense_params(n, u)
        return LayerInfo(name, kind, (u,), count.value, 0, count.compact, n * u, layer)
    if kind == "BatchNormalization":
        count = batchnorm_params(shape[-1])
        return LayerInfo(name, kind, shape, count.value, 2 * shape[-1], count.compact, 0, layer)
    if kind in ("Flatten", "GlobalAveragePooling2D"):
        if len(shape) != 3:
            raise StudioError(f"{_where(layer, name)}: {kind} needs an image-shaped input, but its input is already flat.")
        out = (math.prod(shape),) if kind == "Flatten" else (shape[-1],)
        formula = f"{'×'.join(map(str, shape))} = {out[0]:,} values" if kind == "Flatten" else ""
        return LayerInfo(name, kind, out, formula=formula, config=layer)
    return LayerInfo(name, kind, shape, config=layer)  # Rescaling, Dropout, Activation


def plan(spec: ArchitectureSpec, input_shape: tuple[int, int, int], num_classes: int, dropout: float | None = None) -> Plan:
    """The adapted layer list with each layer's name, output shape, parameters and cost."""
    layers = adapt(spec, num_classes, dropout)
    row = 0
    for layer in layers:
        if not layer.get("added"):
            row += 1
            layer["row"] = row
    if _ends_spatial(layers[:-1]):
        layers.insert(len(layers) - 1, {"type": "Flatten", "added": True})
    shape, counts, infos = tuple(input_shape), {}, []
    for layer in layers:
        base = _snake(layer["type"])
        name = base if base not in counts else f"{base}_{counts[base]}"
        counts[base] = counts.get(base, 0) + 1
        info = _infer(layer, shape, name)
        infos.append(info)
        shape = info.output_shape
    return Plan(tuple(input_shape), infos)


def _ends_spatial(layers: list[dict]) -> bool:
    """True when no layer has made the tensor flat (so the output layer needs a Flatten)."""
    return not any(layer["type"] in ("Flatten", "GlobalAveragePooling2D", "Dense") for layer in layers)


def run_plan(config: dict) -> Plan | None:
    """The plan of the layers a run recorded in its config.json (not today's preset, which may have
    changed since), for its dataset and dropout; None for an imported model, which recorded none."""
    arch, dataset = config.get("architecture", {}), config["dataset"]
    if arch.get("preset") in (None, "imported") or arch.get("layers") is None:
        return None
    spec = ArchitectureSpec(arch["preset"], arch.get("name", ""), arch["layers"])
    dropout = (config.get("train") or {}).get("dropout")
    return plan(spec, tuple(dataset["input_shape"]), len(dataset["class_names"]), dropout)
