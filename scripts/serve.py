"""Start CNN Studio's Streamlit server (what `make run` and the browser tests call).

Same as `streamlit run app.py`, with the runtime adjustments of ui/runtime.py (every link
routed through app.py; no Keras reset after each rerun while a model trains).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamlit.web import cli  # noqa: E402

from ui.runtime import configure_streamlit  # noqa: E402

if __name__ == "__main__":
    configure_streamlit()
    sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
    sys.exit(cli.main())
