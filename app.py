"""CNN Studio: the router. Page config, navigation, and the sidebar card of the current selection."""

import logging

import streamlit as st

from cnn_core import share
from cnn_core.datasets import get_spec
from cnn_core.errors import StudioError
from ui import PageDone, state

st.set_page_config(page_title="CNN Studio", page_icon=":material/neurology:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/dataset:", default=True),
    st.Page("pages/model.py", title="Model", icon=":material/account_tree:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
    st.Page("pages/visualize.py", title="Visualize", icon=":material/visibility:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/draw:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
]


def selection_card(card) -> None:
    config = state.data_config()
    with card:
        st.markdown("### Current selection")
        try:
            name = get_spec(config.dataset_id).name
        except StudioError:
            name = config.dataset_id
        st.markdown(f"**Dataset:** {name}  \n`{config.dataset_id}`")
        try:
            st.markdown(f"**Architecture:** {state.arch_choice().spec().name}")
        except StudioError:
            st.markdown("**Architecture:** (custom stack with errors)")
        if st.session_state.get("current_run"):
            st.markdown(f"**Current model:** run `{st.session_state['current_run']}`")


def apply_shared_link() -> None:
    """On a session's first run, a link's query parameters set the dataset, architecture and settings."""
    if "shared_link_read" not in st.session_state:
        st.session_state["shared_link_read"] = True
        query = st.query_params.to_dict()
        if share.is_shared(query):
            data, arch, train = share.from_query(query)
            state.set_data_config(data)
            state.set_arch_choice(arch)
            state.update_train_config(**train.to_dict())


def write_shared_link() -> None:
    """Keep the address bar equal to the current setup, so copying it shares the experiment."""
    query = share.to_query(state.data_config(), state.arch_choice(), state.train_config())
    if "run" in st.query_params and page.title == "Train":
        query["run"] = st.query_params["run"]
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


apply_shared_link()
page = st.navigation(PAGES)
card = st.sidebar.container()
try:
    page.run()
except PageDone:
    pass
except Exception as exc:  # last line of defence: a bug shows a message, never a traceback, and is logged
    logging.getLogger("cnn_studio").exception("unexpected error on page %s", page.title)
    st.error(
        f"Unexpected error: {type(exc).__name__}: {exc}. Your data and runs are untouched; the details are in the server log."
    )
finally:  # after the page, so the card and the link show what the page just selected
    selection_card(card)
    write_shared_link()
