"""The diagnosis of a run, in words, with a button that applies each suggestion.

A finding may come from an imported run's metrics.json, so its words are shown as typed
(`widgets.plain_text`: never a link or an image), and its optional fields are read with `.get`.
"""

from __future__ import annotations

import html

import streamlit as st

from cnn_core.runs.schema import finding_problem
from cnn_core.settings.config import TrainConfig
from cnn_core.settings.fields import format_value
from ui import settings_form, state
from ui.widgets import plain_text

LABELS = settings_form.TRAIN_LABELS
BOXES = {"error": st.error, "warning": st.warning, "info": st.info}
COLOURS = {"error": "#de2d26", "warning": "#fd8d3c", "info": "#9ecae1"}
PAGES = {"train": "pages/train.py", "model": "pages/model.py", "data": "pages/data.py"}


def show(findings: list[dict], key: str, can_apply: bool = True) -> None:
    """Each finding: what it is, the evidence, why, and what to try (applied with one click)."""
    for i, f in enumerate(findings):
        evidence = str(f.get("evidence", ""))
        words = [f"**{plain_text(f.get('title', ''))}.** {plain_text(evidence[:1].upper() + evidence[1:])}."]
        if f.get("explanation"):
            words.append(plain_text(f["explanation"]))
        if f.get("suggestion"):
            words.append(f"*Try:* {plain_text(f['suggestion'])}")
        BOXES.get(f.get("severity"), st.info)("  \n".join(words))
        setting, value = f.get("setting"), f.get("value")
        if can_apply and value is not None and finding_problem(f) is None and setting in LABELS:  # a value its setting allows
            label = f"Set {LABELS[setting].lower()} to {format_value(value)} for the next run"
            if st.button(label, key=state.key("diagnosis", "apply", key, i), icon=":material/tune:"):
                state.update_train_config(**{setting: value})
                settings_form.forget(f.get("page", "train"), TrainConfig)
                st.switch_page(PAGES.get(f.get("page"), "pages/train.py"))


def marks(findings: list[dict]) -> list[dict]:
    """Findings as shaded epoch ranges on the loss chart."""
    shaded = []
    for f in findings:
        if f.get("start") is not None:
            end = f["end"] if f.get("end") is not None else f["start"] + 0.15
            shaded.append({"from": f["start"], "to": end, "label": html.escape(str(f.get("title", "")).split(":")[0]),
                           "metric": "loss", "colour": COLOURS.get(f.get("severity"), COLOURS["info"])})  # fmt: skip
    return shaded
