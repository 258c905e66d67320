"""Evaluate: where the model is right and where it is wrong, on the test split it never trained on."""

import pandas as pd
import streamlit as st

from cnn_core import charts
from cnn_core.runs.store import RunStore
from ui import diagnosis_view, evaluate_views, label_view, run_picker, state, widgets

st.title("Evaluate")
st.caption("Test-split results of a trained model: the confusion matrix, per-class metrics and the mistakes themselves.")

loaded = run_picker.require(epochs=True)
run_id, dataset = loaded.run_id, loaded.dataset
with st.spinner("Predicting the test split…"):
    result = run_picker.evaluation(run_id, loaded.epoch)

findings = RunStore().read_diagnosis(RunStore().resolve(run_id))
if findings:
    with st.expander(f"What the training curves say: {len(findings)} finding(s)", icon=":material/troubleshoot:"):
        diagnosis_view.show(findings, f"evaluate-{run_id}")
names = result.class_names
c = st.columns(4)
c[0].metric("Test accuracy", f"{result.accuracy:.2%}")
c[1].metric("Test loss", f"{result.loss:.4f}")
c[2].metric("Test images", f"{len(result.y_true):,}")
c[3].metric("Mistakes", f"{int((result.y_pred != result.y_true).sum()):,}")

st.subheader("Confusion matrix")
st.caption("Click a cell to see its images below, or pick the two classes there.")
normalise = st.toggle("Show row percentages (recall per class) instead of counts", key=state.key("evaluate", "normalise"))
event = st.plotly_chart(
    charts.confusion_matrix(result.confusion_matrix(), names, normalise), width="stretch",
    on_select="rerun", selection_mode="points", key=state.key("evaluate", "cm"),
)  # fmt: skip
clicked = event.selection.get("points", []) if event and event.selection else []
if clicked and (clicked[0]["y"], clicked[0]["x"]) != state.get(state.key("evaluate", "cm_applied")):
    # a new click on a cell: show its images (the selectboxes below stay the keyboard way)
    state.put(state.key("evaluate", "cm_applied"), (clicked[0]["y"], clicked[0]["x"]))
    state.put(state.key("evaluate", "true"), names.index(str(clicked[0]["y"])))
    state.put(state.key("evaluate", "pred"), names.index(str(clicked[0]["x"])))
left, right = st.columns(2)
worst = result.most_confused(1)  # start on the most confused pair: the most interesting cell
start = (names.index(worst[0]["true"]), names.index(worst[0]["predicted"])) if worst else (0, 0)
state.seed_widget(state.key("evaluate", "true"), start[0])
state.seed_widget(state.key("evaluate", "pred"), start[1])
true_class = left.selectbox(
    "Images of true class", range(len(names)), format_func=names.__getitem__, key=state.key("evaluate", "true")
)
predicted = right.selectbox("…predicted as", range(len(names)), format_func=names.__getitem__, key=state.key("evaluate", "pred"))
cell = [i for i in range(len(result.y_true)) if result.y_true[i] == true_class and result.y_pred[i] == predicted]
st.caption(
    f"{len(cell)} test image(s) of {names[true_class]} predicted as {names[predicted]}"
    + (" (showing 40)" if len(cell) > 40 else "")
)
if cell:
    widgets.image_grid([dataset.test.images[i] for i in cell[:40]], [f"{result.confidence[i]:.0%}" for i in cell[:40]])

st.subheader("Per-class metrics")
left, right = st.columns([3, 2])
left.dataframe(
    pd.DataFrame(result.per_class()),
    hide_index=True,
    width="stretch",
    column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("precision", "recall", "f1")},
)
right.markdown("**Most confused pairs**")
right.dataframe(pd.DataFrame(result.most_confused(), columns=["true", "predicted", "count"]), hide_index=True, width="stretch")

st.subheader("Misclassified test images")
only = st.selectbox(
    "True class",
    [None, *range(len(names))],
    key=state.key("evaluate", "filter"),
    format_func=lambda k: "all classes" if k is None else names[k],
)
wrong = result.misclassified(only)
st.caption(f"{len(wrong)} mistakes, most confident first" + (" (showing 48)" if len(wrong) > 48 else ""))
if len(wrong):
    widgets.image_grid(
        [dataset.test.images[i] for i in wrong[:48]],
        [f"{names[result.y_true[i]]} → {names[result.y_pred[i]]} ({result.confidence[i]:.0%})" for i in wrong[:48]],
    )
    evaluate_views.mark_mistakes(loaded, result, wrong[:48])
st.download_button(
    "Download all test predictions (CSV)", result.to_csv(), f"{run_id}-predictions.csv", "text/csv", icon=":material/download:"
)

st.subheader("A map of what it learned")
evaluate_views.embedding_map(loaded)

st.subheader("Hardest examples")
evaluate_views.hardest(loaded)

st.subheader("Label issues")
label_view.section(loaded)

st.subheader("Fix the labels: a new dataset version")
label_view.pending(loaded)

st.subheader("How it holds up: accuracy against rotation and noise")
evaluate_views.robustness_curve(loaded)

st.subheader("What changed between two epochs")
evaluate_views.epoch_comparison(loaded, result)
