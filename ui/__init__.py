"""Streamlit-only helpers shared by the pages: session keys, cached loaders, small widgets."""

from typing import NoReturn


class PageDone(Exception):
    """Ends a page early. Unlike `st.stop()`, app.py still draws the sidebar card afterwards."""


def halt() -> NoReturn:
    """Stop rendering this page here (after showing why)."""
    raise PageDone
