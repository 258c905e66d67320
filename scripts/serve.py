"""Start CNN Studio's Streamlit server (what `make run` and the browser tests call).

Same as `streamlit run app.py`, except that every page link is routed through app.py
(see ui/routing.py for why that needs saying).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamlit.web import cli  # noqa: E402

from ui.routing import route_through_app  # noqa: E402

if __name__ == "__main__":
    route_through_app()
    sys.argv = ["streamlit", "run", "app.py", *sys.argv[1:]]
    sys.exit(cli.main())
