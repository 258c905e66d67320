"""Adjustments to Streamlit's runtime for CNN Studio, applied once per process before any script runs.

1. Route every request through app.py's `st.navigation`. Streamlit treats a `pages/` folder
   beside the main script as its older multipage layout until `st.navigation` is first called:
   the first visitor of a deep link (and every AppTest run, which resets the flag) would run the
   page file alone, without app.py's page config and sidebar card.
2. Do not reset Keras after every script run. Streamlit calls `keras.backend.clear_session()`
   after each run, fragment reruns included: a full garbage collection and a cleared TensorFlow
   kernel cache, once a second while the live charts poll, under a model training in another
   thread. Measured: 5 epochs took 51 s with the Train page open instead of 15 s. Matplotlib
   figures are still closed as Streamlit does.
"""

from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

_original_init = PagesManager.__init__


def _init_without_pages_folder(self, *args, **kwargs) -> None:
    _original_init(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False


def _close_matplotlib_figures() -> None:
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def configure_streamlit() -> None:
    """Call once per process, before the first script run."""
    PagesManager.uses_pages_directory = False
    PagesManager.__init__ = _init_without_pages_folder
    script_runner._clean_problem_modules = _close_matplotlib_figures
