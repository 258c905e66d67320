"""CNN Studio: the router. Page config, navigation, and the sidebar card of the current selection."""

import streamlit as st

from cnn_core.datasets import get_spec
from cnn_core.errors import StudioError
from ui import state

st.set_page_config(page_title="CNN Studio", page_icon=":material/neurology:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/dataset:", default=True),
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


page = st.navigation(PAGES)
card = st.sidebar.container()
try:
    page.run()
finally:  # after the page, so the card shows what the page just selected (also after st.stop)
    selection_card(card)
