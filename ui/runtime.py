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
3. Do not poll the config.toml files. Streamlit re-reads a config file edited while it serves, and
   finds out by a thread-pool task per file five times a second, whether or not the file exists:
   a server nobody used took 5.8 % of a core with them, 2.4-3.6 % without (measured). CNN Studio's
   settings are read at start.
"""

import inspect
import logging

from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.web import bootstrap

log = logging.getLogger("cnn_studio.runtime")
_original_init = PagesManager.__init__
_original_cleaner = getattr(script_runner, "_clean_problem_modules", None)
_original_config_watchers = getattr(bootstrap, "_install_config_watchers", None)


def _init_without_pages_folder(self, *args, **kwargs) -> None:
    _original_init(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False


def _close_matplotlib_figures() -> None:
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def internals_problems() -> list[str]:
    """What no longer matches the Streamlit internals these patches replace (empty when all is as expected)."""
    problems = []
    if not isinstance(getattr(PagesManager, "uses_pages_directory", None), (bool, type(None))):
        problems.append("PagesManager.uses_pages_directory is gone: deep links may run page files on their own")
    if _original_cleaner is None:
        problems.append("script_runner._clean_problem_modules is gone: the Keras reset after each rerun is not disabled")
    elif "clear_session" not in inspect.getsource(_original_cleaner):
        problems.append("script_runner._clean_problem_modules no longer resets Keras: the patch may now do something else")
    if "post_script_gc" not in inspect.getsource(script_runner) and "postScriptGC" not in inspect.getsource(script_runner):
        problems.append("runner.postScriptGC is not read by the script runner any more")
    if not callable(_original_config_watchers):
        problems.append("bootstrap._install_config_watchers is gone: config files may be polled again")
    return problems


def _no_config_watchers(flag_options) -> None:
    """Streamlit's config watchers, left out (3. above)."""


def configure_streamlit() -> list[str]:
    """Call once per process, before the first script run. Returns (and logs) any mismatch with
    Streamlit's internals: then a patch may not apply, and training can become 3x slower."""
    problems = internals_problems()
    for problem in problems:
        log.warning("CNN Studio's Streamlit patch does not fit this Streamlit: %s", problem)
    PagesManager.uses_pages_directory = False
    PagesManager.__init__ = _init_without_pages_folder
    script_runner._clean_problem_modules = _close_matplotlib_figures
    bootstrap._install_config_watchers = _no_config_watchers
    return problems
