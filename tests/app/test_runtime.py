"""The Streamlit internals that ui/runtime.py patches are still the ones it expects."""

from ui import runtime


def test_streamlit_internals_match_the_patches():
    assert runtime.internals_problems() == []


def test_the_patches_are_applied():
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import script_runner

    runtime.configure_streamlit()
    assert PagesManager.uses_pages_directory is False
    assert script_runner._clean_problem_modules is runtime._close_matplotlib_figures
