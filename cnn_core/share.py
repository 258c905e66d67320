"""The experiment setup as URL query parameters, so a link reproduces it in another browser.

Only what differs from the defaults is written, with short keys: `?data=shapes&arch=lenet-dropout&epochs=10`.
A custom layer stack travels as compact JSON in `layers`. Unknown or invalid values are ignored.
"""

from __future__ import annotations

import json
from dataclasses import fields

from cnn_core.architectures import PRESETS
from cnn_core.config import ArchChoice, TrainConfig
from cnn_core.datasets import DataConfig

DATA_KEYS = {
    "dataset_id": "data",
    "validation_fraction": "val",
    "test_fraction": "test",
    "seed": "dseed",
    "image_size": "size",
    "channels": "ch",
    "limit": "limit",
}
TRAIN_KEYS = {f.name: f.name for f in fields(TrainConfig)} | {"batch_size": "batch", "learning_rate": "lr"}


def to_query(data: DataConfig, arch: ArchChoice, train: TrainConfig) -> dict[str, str]:
    query = {}
    for obj, keys, default in ((data, DATA_KEYS, DataConfig()), (train, TRAIN_KEYS, TrainConfig())):
        for name, key in keys.items():
            value = getattr(obj, name)
            if value != getattr(default, name):
                query[key] = json.dumps(value) if not isinstance(value, str) else value
    query["arch"] = arch.preset
    if arch.preset == "custom":
        query["layers"] = json.dumps([dict(x) for x in arch.layers], separators=(",", ":"))
    return query


def _value(text: str, default):
    if isinstance(default, str) or (default is None and not text[:1].isdigit() and text not in ("null", "true", "false")):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return default


def from_query(query: dict[str, str]) -> tuple[DataConfig, ArchChoice, TrainConfig]:
    """Rebuild the setup from query parameters; anything missing or unreadable keeps its default."""
    data = {name: _value(query[key], getattr(DataConfig(), name)) for name, key in DATA_KEYS.items() if key in query}
    train = {name: _value(query[key], getattr(TrainConfig(), name)) for name, key in TRAIN_KEYS.items() if key in query}
    arch = ArchChoice(query.get("arch", ArchChoice().preset))
    if arch.preset not in PRESETS and arch.preset != "custom":
        arch = ArchChoice()
    if arch.preset == "custom":
        try:
            arch = ArchChoice.custom(json.loads(query.get("layers", "[]")))
            arch.spec()
        except Exception:  # noqa: BLE001 - unreadable or invalid layers: fall back to the default preset
            arch = ArchChoice()
    try:
        train_config = TrainConfig.from_dict(train)
        train_config.check()
    except Exception:  # noqa: BLE001 - a hand-edited link must never break the app
        train_config = TrainConfig()
    numbers = {k: v for k, v in data.items() if k == "dataset_id" or v is None or isinstance(v, (int, float))}
    return DataConfig.from_dict(numbers), arch, train_config


def is_shared(query: dict[str, str]) -> bool:
    return any(key in query for key in ("data", "arch"))
