"""Sweeps: train many variants of the current model at once, varying 1 to 4 settings, with the
hopeless ones stopped early; watch the trials, compare them, and keep the best."""

import streamlit as st

from cnn_core.errors import StudioError
from cnn_core.jobs import cluster
from cnn_core.runs.store import RunStore
from cnn_core.sweeps import definition as sweeps
from ui import halt, state, sweep_view
from ui.widgets import code_span, plain_text

st.title("Sweeps")
st.caption(
    "Which learning rate, which dropout? A sweep trains the current model and data many times, each trial with other "
    "values of the settings you choose (Optuna chooses them: every combination, at random, or learning from the "
    "trials so far), and stops trials that fall behind the others. Every trial is a normal run on the Runs page."
)
if cluster.address():
    st.caption(f":material/hub: Trials train on the Ray cluster at `{cluster.address()}`, as many at once as it has CPUs.")

store, owner = RunStore(), state.owner_id()
mine = sweeps.list_sweeps(store, viewer=owner)
with st.expander("Define a new sweep", expanded=not mine, icon=":material/science:"):
    data, arch, train = state.data_config(), state.arch_choice(), state.train_config()
    try:
        st.markdown(
            f"Every trial trains **{plain_text(arch.spec().name)}** on {code_span(data.dataset_id)}, with the Train page's "
            "settings except the ones varied here."
        )
    except StudioError as exc:
        st.error(f"Cannot sweep the current selection: {plain_text(str(exc))}")
        halt()
    if sweep_view.start(sweep_view.define(data, arch, train), owner, store):
        st.rerun()

if not mine:
    st.info("No sweeps yet: define one above.")
    halt()
ids = [s.sweep_id for s in mine]
if state.get(state.key("sweeps", "pick")) not in ids:
    state.put(state.key("sweeps", "pick"), ids[0])
picked = st.selectbox(
    "Sweep", ids, format_func=lambda i: sweep_view.describe(mine[ids.index(i)]), key=state.key("sweeps", "pick")
)
sweep = mine[ids.index(picked)]
sweep_view.controls(sweep, owner)
sweep_view.watch(sweep, owner, store)
sweep_view.report_button(sweep, store)
