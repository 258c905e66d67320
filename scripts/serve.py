"""Start CNN Studio's Streamlit server (what `make run` and the browser tests call).

Same as `streamlit run app.py`, with the runtime adjustments of ui/runtime.py (every link
routed through app.py; no Keras reset after each rerun while a model trains).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamlit.web import cli  # noqa: E402

from ui.runtime import configure_streamlit  # noqa: E402


def warm_imports() -> None:
    """Import what every first page needs (about 1.2 s on 2 cores) before the server answers, so the
    first visitor does not wait for it. TensorFlow stays lazy: only the model pages need it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    import cnn_core.datasets  # noqa: F401


if __name__ == "__main__":
    configure_streamlit()
    warm_imports()
    sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
    sys.exit(cli.main())
