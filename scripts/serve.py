"""Start CNN Studio's Streamlit server (what `make run` and the browser tests call).

Same as `streamlit run app.py`, with the runtime adjustments of ui/runtime.py (every link
routed through app.py; no Keras reset after each rerun while a model trains).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamlit.web import cli  # noqa: E402

from ui.runtime import configure_streamlit  # noqa: E402


def warm_up() -> None:
    """Parse the default dataset and import what the light pages need (0.4 s) before the server
    answers, so the first visitor does not wait for them. Done in a thread beside the server's start
    instead, the page took 0.15 s longer and the total from launch was the same. TensorFlow stays
    lazy: only the model pages need it."""
    import cnn_core.datasets

    cnn_core.datasets.warm_default()
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401


if __name__ == "__main__":
    configure_streamlit()
    warm_up()
    sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
    sys.exit(cli.main())
