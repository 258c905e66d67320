"""Architecture presets from the reference tutorials, custom layer stacks, and their adaptation.

A preset is data: a list of layer specs such as `{"type": "Conv2D", "filters": 32, "kernel_size": 3}`.
The output layer is not part of it: `adapt` adds the input scaling, a Flatten where one is missing,
the dropout setting and `Dense(num_classes, softmax)` for the chosen dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cnn_core.errors import StudioError

ACTIVATIONS = ["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "swish", "softmax", "linear"]
# Each layer type and its parameters with defaults; the table editor shows exactly these.
LAYER_TYPES: dict[str, dict] = {
    "Conv2D": {"filters": 32, "kernel_size": 3, "strides": 1, "padding": "valid", "activation": "relu"},
    "MaxPooling2D": {"pool_size": 2, "strides": None, "padding": "valid"},
    "AveragePooling2D": {"pool_size": 2, "strides": None, "padding": "valid"},
    "BatchNormalization": {},
    "Dropout": {"rate": 0.25},
    "Flatten": {},
    "GlobalAveragePooling2D": {},
    "Dense": {"units": 64, "activation": "relu"},
    "Activation": {"activation": "relu"},
}


@dataclass
class ArchitectureSpec:
    """A named layer stack (without its output layer), where it comes from, and its checked parameter counts."""

    id: str
    name: str
    layers: list[dict]
    source: str = ""
    description: str = ""
    facts: list[tuple[tuple[int, int, int], int, int]] = field(default_factory=list)  # (shape, classes, params)
    recommended: dict = field(default_factory=dict)  # training settings it was designed with (TrainConfig fields)
    measured: str = ""  # its measured time to accuracy, settings and machine named in the text (`bench fashion`)

    def to_json(self) -> str:
        """The spec as the JSON file the Model page exports."""
        return json.dumps({"id": self.id, "name": self.name, "layers": self.layers}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> ArchitectureSpec:
        """A spec from an exported JSON file; `StudioError` when it is not one or its layers are invalid."""
        try:
            data = json.loads(text)
            layers = data["layers"]
        except (ValueError, KeyError, TypeError):
            layers = None
        if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
            raise StudioError('an architecture file must be JSON with a "layers" list of layer objects')
        spec = cls(str(data.get("id", "custom")), str(data.get("name", "Custom")), [dict(x) for x in layers])
        errors = validate(spec.layers)
        if errors:
            raise StudioError("; ".join(errors))
        return spec


def conv(filters, kernel=3, padding="valid", strides=1, activation="relu") -> dict:
    """A Conv2D layer spec."""
    return {
        "type": "Conv2D",
        "filters": filters,
        "kernel_size": kernel,
        "strides": strides,
        "padding": padding,
        "activation": activation,
    }


def pool(size=2, strides=None, padding="valid") -> dict:
    """A MaxPooling2D layer spec (stride defaults to the pool size)."""
    return {"type": "MaxPooling2D", "pool_size": size, "strides": strides, "padding": padding}


def dense(units, activation="relu") -> dict:
    """A Dense layer spec."""
    return {"type": "Dense", "units": units, "activation": activation}


def drop(rate) -> dict:
    """A Dropout layer spec."""
    return {"type": "Dropout", "rate": rate}


BN, FLAT = {"type": "BatchNormalization"}, {"type": "Flatten"}
# fashion-cnn's three blocks; fashion-fast's, normalising after each pool and not in the first block
FASHION_BLOCKS = [conv(32, 3, "same"), BN, pool(), conv(64, 3, "same"), BN, pool(), conv(128, 3, "same"), BN, pool()]
FAST_BLOCKS = [conv(32, 3, "same"), pool(), conv(64, 3, "same"), pool(), BN, conv(128, 3, "same"), pool(), BN]
FASHION_HEAD = [FLAT, drop(0.25), dense(256), drop(0.25)]  # and their classifier
FASHION_RECIPE = {"epochs": 12, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.003, "schedule": "one-cycle"}

PRESETS: dict[str, ArchitectureSpec] = {
    p.id: p
    for p in [
        ArchitectureSpec(
            "tutorial-minimal",
            "Minimal CNN (one 3-filter convolution)",
            [{**conv(3, activation="linear")}, {"type": "Activation", "activation": "relu"}, pool(), FLAT],
            "003: a minimal Keras CNN notebook on MNIST",
            "The smallest useful CNN: three 3x3 filters, ReLU, 2x2 max pooling and a softmax classifier. "
            "It shows the parts of a CNN with almost nothing else, and still beats a linear model on digits.",
            [((28, 28, 1), 10, 5_110)],
        ),
        ArchitectureSpec(
            "keras-mnist",
            "Keras MNIST convnet",
            [conv(32), pool(), conv(64), pool(), conv(64), FLAT, dense(64)],
            "001: convolution, padding and pooling explained; the Keras MNIST convnet",
            "Three 3x3 convolutions (32, 64, 64 filters) with two 2x2 max pools, then a 64-unit dense layer: "
            "the classic Keras example, about 99 % on full MNIST.",
            [((28, 28, 1), 10, 93_322)],
            measured="on full Fashion-MNIST (8 epochs, batch 64, auto: bfloat16) 90.51 % after 48 s; it does not "
            "reach 93 % there (2-core Xeon with AMX; 90.20 % after 34 s on a 2-core AMD EPYC; `python -m bench fashion`)",
        ),
        ArchitectureSpec(
            "lenet-dropout",
            "LeNet-style with dropout",
            [conv(16, 5, "same"), pool(), conv(36, 5, "same"), pool(), drop(0.25), FLAT, dense(128), drop(0.5)],
            "004: Keras MNIST CNN with 16 and 36 5x5 filters and dropout (99.29 % test accuracy)",
            "Two 5x5 'same' convolutions (16 and 36 filters) with 2x2 pools, dropout 0.25, a 128-unit dense "
            "layer and dropout 0.5: dropout against over-fitting, as in the tutorial.",
            [((28, 28, 1), 10, 242_062)],
        ),
        ArchitectureSpec(
            "fashion-cnn",
            "Fashion-MNIST CNN (batch-normalised blocks)",
            [*FASHION_BLOCKS, *FASHION_HEAD],
            "designed for CNN Studio after the small CNNs with batch normalisation in Fashion-MNIST's benchmark "
            "table (Debian's dataset-fashion-mnist README: 0.876-0.939 test accuracy)",
            "Three 'same' 3x3 convolution blocks (32, 64, 128 filters), each followed by batch normalisation "
            "and a 2x2 max pool, then dropout, a 256-unit dense layer and dropout. Batch normalisation lets "
            "it take a high learning rate with a one-cycle schedule, so it reaches about 93 % on full "
            "Fashion-MNIST in a few minutes on two CPU cores; use its recommended settings.",
            [((28, 28, 1), 10, 391_306)],
            FASHION_RECIPE,
            measured="with these settings on full Fashion-MNIST, 93 % test accuracy after 264 s with precision auto (bfloat16; "
            "epoch 12, 93.11 % at the end) and after 289 s in float32 (epoch 11, 93.18 %), on a 2-core Xeon with AMX; "
            "after 138 s with auto (93.12 %) and 162 s in float32 (93.26 %) on a 2-core AMD EPYC with AVX512-BF16 "
            "(`python -m bench fashion`)",
        ),
        ArchitectureSpec(
            "fashion-fast",
            "Fashion-MNIST CNN, fast (pool, then normalise)",
            [*FAST_BLOCKS, *FASHION_HEAD],
            "fashion-cnn with each batch normalisation moved after its pooling, and none in the first block; "
            "designed for CNN Studio after a per-layer timing (`python -m bench speed`)",
            "fashion-cnn's convolutions and dense layer, with the same multiply-adds, but batch normalisation "
            "comes after each pool, on a quarter of the values, and the first block has none: it normalises "
            "4,288 values an image where fashion-cnn normalises 43,904. In bfloat16, normalising the full-size "
            "maps was half of fashion-cnn's training step, so this trains about twice as fast to the same "
            "accuracy; use its recommended settings.",
            [((28, 28, 1), 10, 391_178)],
            FASHION_RECIPE,
            measured="with these settings on full Fashion-MNIST, 93 % test accuracy after 89 s with precision auto "
            "(bfloat16; epoch 10, 93.32 % after 106 s; 93.00-93.32 % at the end over 3 seeds) and after 170 s in "
            "float32 (epoch 11, 93.10 %), on a 2-core Xeon with AMX; after 81 s with auto (93.22 %) and 100 s in "
            "float32 (93.09 %) on a 2-core AMD EPYC with AVX512-BF16 (`python -m bench fashion`)",
        ),
        ArchitectureSpec(
            "malaria-bn",
            "Malaria cells CNN with batch normalisation",
            [
                conv(32, 3, "same"),
                pool(),
                BN,
                drop(0.2),
                conv(32, 3, "same"),
                pool(),
                BN,
                drop(0.2),
                FLAT,
                dense(512),
                BN,
                drop(0.2),
                dense(256),
                BN,
                drop(0.2),
            ],
            "000: malaria cell CNN (64x64x3, batch normalisation and dropout)",
            "Two 'same' 3x3 convolution blocks, each with pooling, batch normalisation and dropout, then dense "
            "layers of 512 and 256. The tutorial's sigmoid output with categorical cross-entropy is replaced "
            "by softmax (same parameter count).",
            [((64, 64, 3), 2, 4_340_130)],
        ),
        ArchitectureSpec(
            "cats-dogs",
            "Cats vs dogs CNN",
            [conv(32), pool(), conv(64), pool(), conv(128), pool(), conv(128), pool(), FLAT, drop(0.5), dense(512)],
            "001: cats vs dogs with augmentation and dropout",
            "Four 3x3 convolution blocks (32, 64, 128, 128 filters) with pooling, dropout 0.5 and a 512-unit "
            "dense layer, for 150x150 colour photos. The tutorial's single sigmoid output (3,453,121 "
            "parameters) becomes a 2-class softmax here (3,453,634).",
            [((150, 150, 3), 2, 3_453_634)],
        ),
        ArchitectureSpec(
            "actions-stride1",
            "Actions CNN (stride-1 pooling: a cautionary tale)",
            [
                conv(16, 3, "same"),
                pool(2, 1, "same"),
                conv(32),
                pool(2, 1, "same"),
                conv(64),
                pool(2, 1, "same"),
                conv(128),
                pool(2, 1, "same"),
                FLAT,
                dense(100),
                dense(100),
            ],
            "002: an 11-class action image folder trained with augmentation",
            "Four convolution blocks whose 2x2 pools have stride 1, so they never shrink the image: the "
            "flattened vector stays huge and the first dense layer holds almost all the parameters. Kept "
            "as a lesson in why pooling must downsample; compare its size with keras-mnist.",
            [((64, 64, 3), 11, 43_167_951)],
        ),
    ]
}
DEFAULT_PRESET = "keras-mnist"


def get_preset(preset_id: str) -> ArchitectureSpec:
    """The preset with this id; `StudioError` naming the choices when there is none."""
    if preset_id not in PRESETS:
        raise StudioError(f"unknown architecture '{preset_id}'; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset_id]


def _positive_int(row: dict, key: str) -> str | None:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"{key} must be a whole number ≥ 1 (got {value!r})"
    return None


def validate_layer(row: dict) -> list[str]:
    """What is wrong with one layer spec, in words (empty when it is fine)."""
    kind = row.get("type")
    if kind not in LAYER_TYPES:
        return [f"unknown layer type {kind!r}; use one of {', '.join(LAYER_TYPES)}"]
    errors = []
    for key in ("filters", "kernel_size", "units", "pool_size"):
        if key in LAYER_TYPES[kind]:
            errors.append(_positive_int(row, key))
    if "strides" in LAYER_TYPES[kind] and not (row.get("strides") is None and kind != "Conv2D"):
        errors.append(_positive_int(row, "strides"))
    if "padding" in LAYER_TYPES[kind] and row.get("padding") not in ("valid", "same"):
        errors.append(f"padding must be 'valid' or 'same' (got {row.get('padding')!r})")
    if "activation" in LAYER_TYPES[kind] and row.get("activation") not in ACTIVATIONS:
        errors.append(f"activation must be one of {', '.join(ACTIVATIONS)} (got {row.get('activation')!r})")
    if kind == "Dropout" and not (isinstance(row.get("rate"), (int, float)) and 0 <= row["rate"] < 1):
        errors.append(f"rate must be a number from 0 to below 1 (got {row.get('rate')!r})")
    return [e for e in errors if e]


def validate(layers: list[dict]) -> list[str]:
    """Every problem in a layer list (missing settings take defaults), each with its 1-based row number."""
    if not layers:
        return ["the architecture has no layers"]
    return [
        f"row {i}: {layer.get('type', '?')}: {e}" for i, layer in enumerate(layers, 1) for e in validate_layer(normalise(layer))
    ]


def normalise(row: dict) -> dict:
    """A layer spec with its type's defaults filled in and unknown keys dropped."""
    kind = row.get("type")
    if kind not in LAYER_TYPES:
        return dict(row)
    return {"type": kind, **{k: row.get(k, v) for k, v in LAYER_TYPES[kind].items()}}


def adapt(spec: ArchitectureSpec, num_classes: int, dropout: float | None = None) -> list[dict]:
    """The full layer list for a dataset: Rescaling, the spec, dropout setting, Flatten if needed, output.

    `dropout` (when not None) replaces every Dropout layer's rate; a spec with no Dropout gets one
    before the output layer when `dropout` > 0. Added layers carry `"added": True`.
    """
    errors = validate(spec.layers)
    if errors:
        raise StudioError("; ".join(errors))
    layers = [{"type": "Rescaling", "scale": 1 / 255, "added": True}]
    for row in map(normalise, spec.layers):
        if row["type"] == "Dropout" and dropout is not None:
            row["rate"] = dropout
        layers.append(row)
    if dropout and not any(r["type"] == "Dropout" for r in layers):
        layers.append({"type": "Dropout", "rate": dropout, "added": True})
    layers.append({"type": "Dense", "units": num_classes, "activation": "softmax", "added": True, "output": True})
    return layers
