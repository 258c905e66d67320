"""The Model page's editable layer table: layer specs as rows with every column, and rows back to
specs (blank cells take the type's default) with each row's problems."""

from __future__ import annotations

import math

from cnn_core.model.architectures import LAYER_TYPES, validate

TABLE_COLUMNS = ["type", "filters", "units", "kernel_size", "pool_size", "strides", "padding", "activation", "rate"]


def spec_to_rows(layers: list[dict]) -> list[dict]:
    """Layer specs as table rows: every column present, None where a layer type has no such setting."""
    return [
        {col: (row.get(col) if col == "type" or col in LAYER_TYPES.get(row.get("type"), {}) else None) for col in TABLE_COLUMNS}
        for row in layers
    ]


def _clean(value):
    """Table cells arrive as floats and NaN: make whole numbers ints and blanks None."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def rows_to_layers(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Table rows back to layer specs (blank cells take the type's default) and the rows' problems."""
    layers = []
    for row in rows:
        kind = _clean(row.get("type"))
        if kind is None:
            continue
        defaults = LAYER_TYPES.get(kind, {})
        layer = {"type": kind}
        for key, default in defaults.items():
            value = _clean(row.get(key))
            layer[key] = default if value is None else value
        layers.append(layer)
    return layers, validate(layers)
