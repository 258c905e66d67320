"""The experiment setup as URL query parameters, so a link reproduces it in another browser.

Only what differs from the defaults is written, with the keys the settings declare:
`?data=shapes&arch=lenet-dropout&epochs=10`. A custom layer stack travels as compact JSON in
`layers`. Reading a link never turns a bad value into another one: the value is dropped, its
field keeps the default, and a notice names the key and the value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cnn_core import paths
from cnn_core.data import versions
from cnn_core.errors import StudioError
from cnn_core.model.architectures import PRESETS
from cnn_core.settings import fields
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig

NAVIGATION_KEYS = {"run"}  # carried by links, but not part of the setup


@dataclass
class SharedSetup:
    """What a link sets, and a notice for every value that was ignored."""

    data: DataConfig
    arch: ArchChoice
    train: TrainConfig
    notices: list[str] = field(default_factory=list)


def to_query(data: DataConfig, arch: ArchChoice, train: TrainConfig) -> dict[str, str]:
    """The setup as query parameters (defaults left out)."""
    query = {**fields.encode(data), **fields.encode(train), "arch": arch.preset}
    if arch.preset == "custom":
        query["layers"] = json.dumps([dict(x) for x in arch.layers], separators=(",", ":"))
    return query


def _arch(query: dict[str, str], notices: list[str]) -> ArchChoice:
    preset = query.get("arch", ArchChoice().preset)
    if preset not in PRESETS and preset != "custom":
        notices.append(f"arch={preset!r} was ignored: no such architecture; using {ArchChoice().preset}")
        return ArchChoice()
    if preset != "custom":
        return ArchChoice(preset)
    try:
        layers = json.loads(query.get("layers", "[]"))
        if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
            raise StudioError("the layers must be a JSON list of layer objects")
        choice = ArchChoice.custom(layers)
        choice.spec()
        return choice
    except (ValueError, StudioError) as exc:
        text = query.get("layers", "")
        shown = text if len(text) <= 60 else text[:57] + "..."
        notices.append(f"layers={shown!r} was ignored: {exc}; using {ArchChoice().preset}")
        return ArchChoice()


def _served_locally(dataset_id: str) -> bool:
    """A link may name an upload kept under the app's data folder, but no other path on the server."""
    kind, _, location = versions.split_id(dataset_id)[0].partition(":")  # a version reads its base's files
    if kind not in ("folder", "zip"):
        return True
    try:
        return Path(location).resolve().is_relative_to(paths.data_dir())
    except (OSError, ValueError):
        return False


def from_query(query: dict[str, str]) -> SharedSetup:
    """Rebuild the setup from query parameters; every ignored value gets a notice."""
    notices: list[str] = []
    data, data_notices = fields.decode(DataConfig, query)
    train, train_notices = fields.decode(TrainConfig, query)
    notices += data_notices + train_notices
    if "dataset_id" in data and not _served_locally(data["dataset_id"]):
        notices.append(
            f"data={data.pop('dataset_id')!r} was ignored: a link cannot open a folder on the server; "
            "choose your own images on the Data page"
        )
    if "dataset_id" in data:
        try:
            versions.edits_of(data["dataset_id"])  # a version must be on this server
        except StudioError as exc:
            notices.append(f"data={data.pop('dataset_id')!r} was ignored: {exc}")
    arch = _arch(query, notices)
    known = {d.key for d in fields.declared(DataConfig) + fields.declared(TrainConfig)} | {"arch", "layers"}
    for key in sorted(set(query) - known - NAVIGATION_KEYS):
        notices.append(f"{key}={query[key]!r} was ignored: CNN Studio has no setting called '{key}'")
    return SharedSetup(DataConfig(**data), arch, TrainConfig(**train), notices)


def is_shared(query: dict[str, str]) -> bool:
    """True when a link carries a setup (not just a page address)."""
    return bool(set(query) - NAVIGATION_KEYS)
