"""The Data page must open without TensorFlow: measured in a fresh interpreter."""

import json
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, sys, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=60)
at.run()
print(json.dumps({"seconds": time.perf_counter() - t0, "tensorflow": "tensorflow" in sys.modules,
                  "keras": "keras" in sys.modules, "exception": bool(at.exception), "title": at.title[0].value}))
"""


def test_data_page_renders_without_importing_tensorflow():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"Data page first render in a fresh process: {result['seconds']:.2f} s")
    assert result["title"] == "Data" and not result["exception"]
    assert not result["tensorflow"] and not result["keras"]
