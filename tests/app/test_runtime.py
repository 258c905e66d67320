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


def test_a_served_app_polls_no_config_file(monkeypatch):
    """Streamlit's own watchers poll each config.toml path five times a second; the patch leaves them out."""
    from streamlit.web import bootstrap

    watched = []
    monkeypatch.setattr(bootstrap, "watch_file", lambda path, *args, **kwargs: watched.append(path))
    monkeypatch.setattr(bootstrap, "_install_config_watchers", runtime._original_config_watchers)
    bootstrap._install_config_watchers({})
    assert any(path.endswith("config.toml") for path in watched)  # what Streamlit does unpatched
    watched.clear()
    runtime.configure_streamlit()
    bootstrap._install_config_watchers({})
    assert watched == []
