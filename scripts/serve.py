"""Start CNN Studio's Streamlit server (what `make run` and the browser tests call).

Same as `cnn-studio serve`: `streamlit run app.py` with the runtime adjustments of ui/runtime.py
(every link routed through app.py; no Keras reset after each rerun while a model trains).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ui.launcher import serve  # noqa: E402

if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
