"""The diagnosis of a run, in words, with a button that applies each suggestion."""

from __future__ import annotations

import streamlit as st

from cnn_core.config import TrainConfig
from cnn_core.settings import format_value
from ui import settings_form, state

LABELS = settings_form.TRAIN_LABELS
BOXES = {"error": st.error, "warning": st.warning, "info": st.info}
PAGES = {"train": "pages/train.py", "model": "pages/model.py", "data": "pages/data.py"}


def show(findings: list[dict], key: str, can_apply: bool = True) -> None:
    """Each finding: what it is, the evidence, why, and what to try (applied with one click)."""
    for i, f in enumerate(findings):
        BOXES.get(f["severity"], st.info)(
            f"**{f['title']}.** {f['evidence'][:1].upper()}{f['evidence'][1:]}.  \n{f['explanation']}  \n*Try:* {f['suggestion']}"
        )
        setting, value = f.get("setting"), f.get("value")
        if can_apply and setting in LABELS and value is not None:
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
            shaded.append({"from": f["start"], "to": end, "label": f["title"].split(":")[0], "metric": "loss",
                           "colour": {"error": "#de2d26", "warning": "#fd8d3c", "info": "#9ecae1"}[f["severity"]]})  # fmt: skip
    return shaded
