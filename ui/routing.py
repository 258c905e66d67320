"""Make every request go through app.py's `st.navigation`, even though a `pages/` folder exists.

Streamlit treats a `pages/` folder beside the main script as its older multipage layout until
`st.navigation` is first called: the first visitor of a deep link (and every AppTest run, which
resets the flag) would run the page file alone, without app.py's page config and sidebar card.
"""

from streamlit.runtime.pages_manager import PagesManager

_original_init = PagesManager.__init__


def _init_without_pages_folder(self, *args, **kwargs) -> None:
    _original_init(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False


def route_through_app() -> None:
    """Call once per process, before the first script run."""
    PagesManager.uses_pages_directory = False
    PagesManager.__init__ = _init_without_pages_folder
