"""The experiment's settings: `DataConfig`, `TrainConfig` and `ArchChoice`, each round-tripping JSON.

Every user-settable field is declared here once, with its label, help text, range and unit (see
fields.py); the pages, the CLI, the share link and validation all read that declaration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

from cnn_core.errors import StudioError
from cnn_core.model.architectures import DEFAULT_PRESET, ArchitectureSpec, get_preset, validate
from cnn_core.settings import fields
from cnn_core.settings.fields import setting

DEFAULT_DATASET = "mnist-5k"
OPTIMIZERS = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD with momentum"}
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
SEED_MAX = 2**31 - 1
# the registry's ids (`data.datasets.REGISTRY` checks that it has exactly these), in its order
DATASET_IDS = ("mnist-5k", "digits", "shapes", "mnist", "fashion-mnist", "cifar10")
SCHEDULES = {  # learning-rate schedules: id -> label (the formulas are the recipe's)
    "constant": "Constant",
    "step": "Step decay",
    "exponential": "Exponential decay",
    "cosine": "Cosine decay",
    "one-cycle": "One-cycle (rise, then cosine)",
}
PRECISIONS = {  # id -> label; `auto` is resolved per run (training/precision.py), and the run records the result
    "auto": "auto (bfloat16 where it measures faster)",
    "float32": "float32",
    "bfloat16": "mixed bfloat16",
}
SETTINGS_VERSION = 2  # run configs before version 2 counted rotation in turns, not degrees


def _dataset_id(value: str) -> str | None:
    from cnn_core.data.versions import split_id  # the id's form only: a version's file is read when it loads

    try:
        value, _ = split_id(value)
    except StudioError as exc:
        return str(exc)
    kind, _, location = value.partition(":")
    if value in DATASET_IDS or (kind in ("folder", "zip") and location.strip()):
        return None
    return f"must be one of {', '.join(DATASET_IDS)}, folder:<path> or zip:<path>, or a version of one (<id>@v-<8 hex>)"


def _from_dict(cls, data: dict):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _check(config) -> None:
    found = fields.problems(config)
    if found:
        raise StudioError("; ".join(found))


@dataclass(frozen=True)
class DataConfig:
    """Everything that decides which images land in which split."""

    dataset_id: str = setting(
        DEFAULT_DATASET, label="Dataset", kind="text", widget="custom", pages=("data",), flag="--dataset", key="data",
        help="The images to learn from: a bundled set such as mnist-5k, a Keras download, or folder:<path> / zip:<path>; "
        "<id>@v-<8 hex> is a version of one with label edits.",
        check=_dataset_id,
    )  # fmt: skip
    validation_fraction: float = setting(
        0.1, label="Validation fraction", kind="float", minimum=0.0, maximum=0.4, step=0.05, widget="slider",
        pages=("data", "train"), group="Splits", key="val",
        help="Share of all images held out to check the model after each epoch, never trained on; 0.1 is typical.",
    )  # fmt: skip
    test_fraction: float = setting(
        0.15, label="Test fraction", kind="float", minimum=0.0, maximum=0.4, step=0.05, widget="slider", pages=("data",),
        group="Splits", key="test",
        help="Share of all images kept for the final test (datasets with an official test split keep theirs); 0.15 is typical.",
    )  # fmt: skip
    seed: int = setting(
        0, label="Split seed", kind="int", minimum=0, maximum=SEED_MAX, pages=("data",), group="Splits",
        flag="--split-seed", key="dseed",
        help="Decides which images go to which split; the same seed gives the same splits every time.",
    )  # fmt: skip
    image_size: int | None = setting(
        None, label="Image size", kind="int", minimum=4, maximum=512, unit="pixels", optional="keep the data's own size",
        pages=("data",), group="Format", key="size",
        help="Resize every image to this square side, e.g. 28 to use MNIST presets on 8x8 digits; smaller trains faster.",
    )  # fmt: skip
    channels: int | None = setting(
        None, label="Colour", kind="choice", choices={1: "grayscale", 3: "RGB"}, optional="from the data",
        widget="selectbox", pages=("data",), group="Format", key="ch",
        help="Read your own images as grayscale (1 channel) or RGB (3 channels); grayscale is enough for digits.",
    )  # fmt: skip
    limit: int | None = setting(
        None, label="Image limit", kind="int", minimum=10, maximum=1_000_000, step=500, unit="images",
        optional="use all images", pages=("data",), group="Format",
        help="Use at most this many images (for shapes: how many to generate); 2,000 makes a quick experiment.",
    )  # fmt: skip

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DataConfig:
        return _from_dict(cls, data)

    def check(self) -> None:
        """Raise `StudioError` naming every field outside its declared range."""
        _check(self)


@dataclass(frozen=True)
class TrainConfig:
    """What the Train page sets (and dropout, which the Model page sets)."""

    epochs: int = setting(
        5, label="Epochs", kind="int", minimum=1, maximum=1000, unit="epochs", group="Training",
        help="How many times the model sees every training image; 5 is enough for MNIST, harder data needs 20 or more.",
    )  # fmt: skip
    batch_size: int = setting(
        64, label="Batch size", kind="int", minimum=1, maximum=4096, unit="images", group="Training", key="batch",
        pages=("train", "model"),
        help="Images per weight update; 32 to 128 is typical, and larger batches train faster per image but may generalise less.",
    )  # fmt: skip
    optimizer: str = setting(
        "adam", label="Optimizer", kind="choice", choices=OPTIMIZERS, widget="selectbox", group="Training",
        help="The rule that turns gradients into weight updates; Adam works well with its defaults.",
    )  # fmt: skip
    learning_rate: float = setting(
        0.001, label="Learning rate", kind="float", minimum=0.0, above=True, maximum=10.0, widget="select_slider",
        presets=LEARNING_RATES, group="Training", key="lr",
        help="How big each update step is; 0.001 suits Adam, 0.01 to 0.1 suits SGD. Too high diverges, too low crawls.",
    )  # fmt: skip
    momentum: float = setting(
        0.9, label="Momentum (SGD only)", kind="float", minimum=0.0, maximum=0.99, step=0.01, widget="slider",
        group="Training",
        help="How much of the previous update SGD keeps adding, which smooths its path; 0.9 is typical.",
    )  # fmt: skip
    seed: int = setting(
        0, label="Seed", kind="int", minimum=0, maximum=SEED_MAX, group="Training",
        help="Fixes the random start weights, shuffling and augmentation, so a run can be repeated exactly.",
    )  # fmt: skip
    early_stopping: bool = setting(
        False, label="Early stopping", kind="bool", widget="checkbox", group="Training", key="early",
        help="Stop when the validation loss has not improved for 'patience' epochs, and keep the best weights.",
    )  # fmt: skip
    patience: int = setting(
        3, label="Patience", kind="int", minimum=1, maximum=100, unit="epochs", group="Training",
        help="Epochs without a better validation loss before early stopping ends training; 3 to 5 is typical.",
    )  # fmt: skip
    precision: str = setting(
        "auto", label="Precision", kind="choice", choices=PRECISIONS, widget="selectbox", group="Training",
        help="Mixed bfloat16 computes in 16 bits on float32 weights: faster on CPUs with AMX and recent GPUs. "
        "auto measures both on this model and picks bfloat16 only where it is faster.",
    )  # fmt: skip
    schedule: str = setting(
        "constant", label="Learning-rate schedule", kind="choice", choices=SCHEDULES, widget="selectbox", group="Schedule",
        help="How the learning rate changes during training; cosine decay or one-cycle often reach a better model than constant.",
    )  # fmt: skip
    warmup_epochs: float = setting(
        0.0, label="Warm-up", kind="float", minimum=0.0, maximum=20.0, step=0.5, unit="epochs", widget="number",
        group="Schedule",
        help="Epochs over which the rate climbs from almost 0 to its full value, which steadies the first updates; 1 is typical.",
    )  # fmt: skip
    lr_decay: float = setting(
        0.5, label="Decay factor", kind="float", minimum=0.01, maximum=1.0, step=0.05, group="Schedule",
        help="Step decay multiplies the rate by this at each step; exponential decay, once per epoch (0.9 is gentle).",
    )  # fmt: skip
    lr_step_epochs: int = setting(
        5, label="Step every", kind="int", minimum=1, maximum=500, unit="epochs", group="Schedule",
        help="For step decay: how many epochs pass between two drops of the learning rate; a third of the run is typical.",
    )  # fmt: skip
    checkpoint_keep: int = setting(
        10, label="Checkpoints to keep", kind="int", minimum=1, maximum=1000, group="Checkpoints",
        help="When a run's checkpoints outgrow the disk budget, keep the first, last and best plus this many spread evenly.",
    )  # fmt: skip
    checkpoint_budget_mb: int = setting(
        200, label="Checkpoint budget", kind="int", minimum=10, maximum=100_000, step=50, unit="MB", group="Checkpoints",
        help="Disk space a run's checkpoints may use; small models keep every epoch within 200 MB.",
    )  # fmt: skip
    dropout: float | None = setting(
        None, label="Dropout rate", kind="float", minimum=0.0, maximum=0.9, step=0.05, widget="toggle",
        optional="keep the architecture's own rates", pages=("model",),
        help="One rate for every Dropout layer (one is added if there is none); 0.25 to 0.5 fights over-fitting.",
    )  # fmt: skip
    flip: bool = setting(
        False, label="Horizontal flip", kind="bool", widget="checkbox", group="Augmentation",
        help="Randomly mirror training images left to right; good for photos, wrong for digits and text.",
    )  # fmt: skip
    rotation: float = setting(
        0.0, label="Rotation", kind="float", minimum=0.0, maximum=180.0, step=5.0, unit="degrees", widget="slider",
        group="Augmentation",
        help="Randomly turn training images by up to this many degrees either way; 10 to 15 suits digits.",
    )  # fmt: skip
    zoom: float = setting(
        0.0, label="Zoom", kind="float", minimum=0.0, maximum=0.5, step=0.05, widget="slider", group="Augmentation",
        help="Randomly zoom training images in or out by up to this fraction; 0.1 is a gentle start.",
    )  # fmt: skip
    translation: float = setting(
        0.0, label="Shift", kind="float", minimum=0.0, maximum=0.5, step=0.05, widget="slider", group="Augmentation",
        help="Randomly shift training images by up to this fraction of their size; 0.1 is a gentle start.",
    )  # fmt: skip

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        return _from_dict(cls, data)

    def check(self) -> None:
        """Raise `StudioError` naming every field outside its declared range."""
        _check(self)


def train_config_of(run: dict) -> TrainConfig:
    """The training settings a run's config.json recorded, in today's units."""
    train = dict(run.get("train") or {})
    if run.get("settings_version", 1) < 2 and isinstance(train.get("rotation"), (int, float)):
        train["rotation"] = round(train["rotation"] * 360, 6)
    train.setdefault("precision", "float32")  # runs from before the setting trained in float32
    return TrainConfig.from_dict(train)


@dataclass(frozen=True)
class ArchChoice:
    """A preset id, or "custom" with its own layer list."""

    preset: str = DEFAULT_PRESET
    layers: tuple = field(default_factory=tuple)
    name: str = ""

    def spec(self) -> ArchitectureSpec:
        """The architecture this choice names; `StudioError` for an unknown preset or broken layers."""
        if self.preset != "custom":
            return get_preset(self.preset)
        layers = [dict(x) for x in self.layers]
        errors = validate(layers)
        if errors:
            raise StudioError("; ".join(errors))
        return ArchitectureSpec("custom", self.name or "Custom layer stack", layers, "your own layer stack")

    def to_dict(self) -> dict:
        return {"preset": self.preset, "layers": [dict(x) for x in self.layers], "name": self.name}

    @classmethod
    def from_dict(cls, data: dict) -> ArchChoice:
        return cls(
            data.get("preset", DEFAULT_PRESET), tuple(tuple_layer(x) for x in data.get("layers", [])), data.get("name", "")
        )

    @classmethod
    def custom(cls, layers: list[dict], name: str = "") -> ArchChoice:
        return cls("custom", tuple(tuple_layer(x) for x in layers), name)


def tuple_layer(layer: dict) -> tuple:
    """A layer dict as sorted (key, value) pairs: hashable, so configs can be cache keys."""
    return tuple(sorted(dict(layer).items()))
