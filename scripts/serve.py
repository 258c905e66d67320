"""Start CNN Studio's Streamlit server (what `make run` and the browser tests call).

Same as `streamlit run app.py`, with the runtime adjustments of ui/runtime.py (every link
routed through app.py; no Keras reset after each rerun while a model trains).
"""

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamlit.web import cli  # noqa: E402

from ui.runtime import configure_streamlit  # noqa: E402


def warm_up() -> None:
    """Import what the pages need and parse the default dataset while the first visitor's browser loads
    Streamlit's front end (about 1 s), instead of before the server answers or during their first page.
    TensorFlow stays lazy: only the model pages need it."""
    import cnn_core.datasets

    cnn_core.datasets.warm_default()
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401


if __name__ == "__main__":
    configure_streamlit()
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
    sys.exit(cli.main())
