"""CNN Studio: the router. Page config, the classroom gate, navigation, the sidebar card of the current
selection, the link; and the upload sweeper, started once per server process."""

import logging

import streamlit as st

from cnn_core.access import classroom
from cnn_core.data import storage
from cnn_core.data.datasets import get_spec
from cnn_core.errors import StudioError
from cnn_core.settings import share
from ui import PageDone, classroom_view, state
from ui.widgets import code_span, plain_text

st.set_page_config(page_title="CNN Studio", page_icon=":material/neurology:", layout="wide")
storage.start_sweeper()  # `streamlit run app.py` sweeps too, not only `cnn-studio serve`; a no-op after the first run

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/dataset:", default=True),
    st.Page("pages/model.py", title="Model", icon=":material/account_tree:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/sweeps.py", title="Sweeps", icon=":material/science:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
    st.Page("pages/visualize.py", title="Visualize", icon=":material/visibility:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/draw:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
]
TEACHER_PAGE = st.Page("pages/teacher.py", title="Teacher", icon=":material/supervisor_account:")


def selection_card(card) -> None:
    config = state.data_config()
    with card:
        if classroom.enabled():
            classroom_view.member_line()
        st.markdown("### Current selection")
        try:
            name = get_spec(config.dataset_id).name
        except StudioError:
            name = config.dataset_id
        st.markdown(f"**Dataset:** {plain_text(name)}  \n{code_span(config.dataset_id)}")
        try:
            st.markdown(f"**Architecture:** {plain_text(state.arch_choice().spec().name)}")
        except StudioError:
            st.markdown("**Architecture:** (custom stack with errors)")
        if state.current_run():
            st.markdown(f"**Current model:** run {code_span(state.current_run())}")


def apply_shared_link() -> None:
    """On a session's first run, a link's query parameters set the dataset, architecture and settings.
    Values that cannot be used are dropped, and the page says which (see `show_link_notices`)."""
    if state.link_read():
        return
    query = st.query_params.to_dict()
    if share.is_shared(query):
        setup = share.from_query(query)
        state.set_data_config(setup.data)
        state.set_arch_choice(setup.arch)
        state.update_train_config(**setup.train.to_dict())
        state.set_link_notices(setup.notices)


def show_link_notices() -> None:
    notices = state.link_notices()
    if notices:
        with st.container(border=True):
            st.warning(
                f"The link you opened had {len(notices)} value(s) CNN Studio could not use. "
                "The rest of its setup was applied:\n\n" + "\n".join(f"- {code_span(n)}" for n in notices),
                icon=":material/link_off:",
            )
            if st.button("Dismiss", key=state.key("app", "dismiss")):
                state.set_link_notices([])
                st.rerun()


def write_shared_link(page) -> None:
    """Keep the address bar equal to the current setup, so copying it shares the experiment."""
    query = share.to_query(state.data_config(), state.arch_choice(), state.train_config())
    if "run" in st.query_params and page.title == "Train":
        query["run"] = st.query_params["run"]
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def owner_cookie(place) -> None:
    """Keep this browser's owner id in its cookie, so a reload is the same person (and class member)."""
    script = state.owner_cookie_script()
    if script:
        with place:
            st.html(script, unsafe_allow_javascript=True)


def join_gate() -> bool:
    """True when this browser may use the app. In classroom mode, one that has not joined gets the
    join page alone: no navigation, no sidebar card, no link, nothing from the runs or the data."""
    if not classroom.enabled():
        return True
    classroom_view.admit_from_link()
    if classroom.admitted(state.owner_id()):
        return True
    st.navigation([st.Page(classroom_view.join_page, title="Join the class")], position="hidden").run()
    owner_cookie(st.container())
    return False


def run_app() -> None:
    apply_shared_link()
    teacher = [TEACHER_PAGE] if classroom.is_teacher(state.owner_id()) else []
    page = st.navigation(PAGES + teacher)
    card = st.sidebar.container()
    show_link_notices()
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
        write_shared_link(page)
        owner_cookie(st.sidebar)


if join_gate():
    run_app()
