"""The experiment's settings as small dataclasses that round-trip through JSON.

`TrainConfig` holds what the Train page sets; `ArchChoice` names a preset or carries a custom
layer list. With `DataConfig` (datasets.py) they make the whole experiment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from cnn_core.architectures import DEFAULT_PRESET, ArchitectureSpec, get_preset, validate
from cnn_core.errors import StudioError

OPTIMIZERS = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD with momentum"}


def _from_dict(cls, data: dict):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 64
    dropout: float | None = None  # None keeps the architecture's own rates
    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.9  # SGD only
    flip: bool = False
    rotation: float = 0.0  # fraction of a full turn, as keras.layers.RandomRotation takes it
    zoom: float = 0.0
    translation: float = 0.0
    early_stopping: bool = False
    patience: int = 3
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        return _from_dict(cls, data)

    def check(self) -> None:
        if not 1 <= self.epochs <= 1000:
            raise StudioError("epochs must be between 1 and 1000")
        if not 1 <= self.batch_size <= 4096:
            raise StudioError("batch size must be between 1 and 4096")
        if self.optimizer not in OPTIMIZERS:
            raise StudioError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if not 0 < self.learning_rate <= 10:
            raise StudioError("learning rate must be above 0 and at most 10")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise StudioError("dropout must be from 0 to below 1")

    @property
    def augments(self) -> bool:
        return bool(self.flip or self.rotation or self.zoom or self.translation)


@dataclass(frozen=True)
class ArchChoice:
    """A preset id, or "custom" with its own layer list."""

    preset: str = DEFAULT_PRESET
    layers: tuple = field(default_factory=tuple)
    name: str = ""

    def spec(self) -> ArchitectureSpec:
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
