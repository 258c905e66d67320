"""Pieces of the Evaluate page: what changed between two epochs of a run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cnn_core.evaluation import compare_epochs
from ui import run_picker, state, widgets


def epoch_comparison(loaded, result) -> None:
    """Pick another saved epoch and see per-class accuracy changes and the images that flipped."""
    epochs = run_picker.saved_epochs(loaded.run_id)
    if len(epochs) < 2 and not (epochs and loaded.epoch is None):
        st.caption("This run has a single saved state: train more epochs to compare them.")
        return
    here = "final" if loaded.epoch is None else f"epoch {loaded.epoch}"
    other = st.selectbox(
        f"Compare {here} (B) with epoch (A)", [e for e in epochs if e != loaded.epoch], index=0,
        key=state.key("inspect", "compare", loaded.run_id),
    )  # fmt: skip
    with st.spinner(f"Predicting the test split with epoch {other}…"):
        before = run_picker.evaluation(loaded.run_id, other)
    change = compare_epochs(before, result)
    names, images = result.class_names, loaded.dataset.test.images
    c = st.columns(3)
    c[0].metric(f"Accuracy at epoch {other}", f"{before.accuracy:.2%}")
    c[1].metric(f"Accuracy at {here}", f"{result.accuracy:.2%}", delta=f"{(result.accuracy - before.accuracy) * 100:+.2f} points")
    c[2].metric("Images that flipped", f"{len(change.became_right)} right · {len(change.became_wrong)} wrong")
    st.dataframe(
        pd.DataFrame(change.per_class()), hide_index=True, width="stretch",
        column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("accuracy A", "accuracy B", "change")},
    )  # fmt: skip
    for title, indices in ((f"Became right by {here}", change.became_right), (f"Became wrong by {here}", change.became_wrong)):
        st.markdown(f"**{title}** ({len(indices)})")
        if len(indices):
            widgets.image_grid(
                [images[i] for i in indices[:24]],
                [f"{names[result.y_true[i]]}: {names[before.y_pred[i]]} → {names[result.y_pred[i]]}" for i in indices[:24]],
            )
