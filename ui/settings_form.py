"""Widgets built from the settings declaration (cnn_core/settings/fields.py): one per declared field.

Each widget takes its label, help tooltip, range, step and unit from the field's `Setting`, and its
session key from `state.setting_key`, so a new setting needs no page code beyond its declaration.
"""

from __future__ import annotations

import streamlit as st

from cnn_core.settings.config import TrainConfig
from cnn_core.settings.fields import Declared, declared
from ui import state

TRAIN_LABELS = {d.name: d.setting.label for d in declared(TrainConfig)}


def _label(d: Declared) -> str:
    s = d.setting
    if s.kind in ("int", "float") and s.unit and s.widget != "number":
        return f"{s.label} (± {s.unit})" if s.group == "Augmentation" else f"{s.label} ({s.unit})"
    if s.optional and s.widget == "number":
        return f"{s.label} (0: {s.optional})"
    return s.label


def _number(d: Declared, where, key: str):
    s = d.setting
    is_int = s.kind == "int"
    cast = int if is_int else float
    low = 0 if s.optional else s.minimum
    step = s.step if s.step is not None else (1 if is_int else 0.01)
    value = where.number_input(
        _label(d), cast(low), cast(s.maximum), step=cast(step), key=key, help=s.help, format=None if is_int else "%g"
    )
    return None if s.optional and value == 0 else cast(round(value, 6))


def _seed(d: Declared, key: str, value) -> None:
    """Give the widget the config's value when it is first drawn (or redrawn after another page)."""
    s = d.setting
    if s.widget == "toggle":
        state.seed_widget(key + ".on", value is not None)
        value = s.minimum if value is None else value
    elif s.widget == "number" and s.optional and value is None:
        value = 0
    state.seed_widget(key, value)


def widget(d: Declared, page: str, value, where=st):
    """Draw the widget for one declared setting on `page`; returns the value it holds."""
    s, key = d.setting, state.setting_key(page, d.name)
    _seed(d, key, value)
    if s.widget == "number":
        return _number(d, where, key)
    if s.widget == "slider":
        cast = int if s.kind == "int" else float
        shown = "%d" if s.kind == "int" or s.step >= 1 else None  # whole degrees, not "15.00"
        value = where.slider(_label(d), cast(s.minimum), cast(s.maximum), step=cast(s.step), key=key, help=s.help, format=shown)
        return cast(round(value, 6))
    if s.widget == "select_slider":
        options = sorted({*s.presets, state.get(key)})
        return where.select_slider(_label(d), options, format_func=lambda v: f"{v:g}", key=key, help=s.help)
    if s.widget == "checkbox":
        return where.checkbox(s.label, key=key, help=s.help)
    if s.widget == "selectbox":
        options = ([None] if s.optional else []) + list(s.choices)
        return where.selectbox(
            s.label, options, key=key, help=s.help, format_func=lambda v: s.optional if v is None else s.choices[v]
        )
    if s.widget == "toggle":
        on = where.toggle(f"Set one {s.label.lower()}", key=key + ".on", help=s.help)
        rate = where.slider(s.label, float(s.minimum), float(s.maximum), step=float(s.step), key=key, disabled=not on)
        return round(rate, 4) if on else None
    raise ValueError(f"{d.name}: the widget {s.widget!r} is drawn by its page")


def form_section(config, page: str, group: str, columns: int = 4) -> dict:
    """The widgets of one group of `config`'s settings shown on `page`, in rows of `columns`."""
    chosen = [d for d in declared(type(config)) if page in d.setting.pages and d.setting.group == group]
    values = {}
    for start in range(0, len(chosen), columns):
        cells = st.columns(columns)
        for cell, d in zip(cells, chosen[start : start + columns]):
            values[d.name] = widget(d, page, getattr(config, d.name), cell)
    return values


def forget(page: str, config_class) -> None:
    """Drop the page's widget values so they are drawn again from the config (after loading a setup)."""
    for d in declared(config_class):
        for key in (state.setting_key(page, d.name), state.setting_key(page, d.name) + ".on"):
            state.drop(key)
