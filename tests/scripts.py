"""Exported scripts run as `__main__`, several in one Python process.

Each `python train.py` imports TensorFlow again: 7-8 s of CPU on the 2-core test machine, more than
a tiny script's training. `run_scripts` starts one process that runs each script with `runpy` in
its own folder, with its own arguments and a fresh namespace (a missing import fails as it would
alone), and returns what each printed, or the end of the traceback it raised.

Scripts that must run exactly as a user runs them still get their own `python train.py`: the
flagship's in tests/core/test_export_matrix.py, the accuracy parity and Debian Fashion-MNIST
cases in test_recipe_one_source.py, the bfloat16 one in test_precision.py and the JAX one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

DRIVER = """
import contextlib, io, json, os, runpy, sys, traceback
results = {}
for name, script, args in json.loads(sys.argv[1]):
    os.chdir(os.path.dirname(script))
    sys.argv, printed = [script, *args], io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            runpy.run_path(script, run_name="__main__")
        results[name] = {"stdout": printed.getvalue()}
    except SystemExit as exc:  # --help, or argparse refusing an argument
        results[name] = {"stdout": printed.getvalue(), "exit": exc.code}
    except BaseException:
        results[name] = {"stdout": printed.getvalue(), "error": traceback.format_exc()[-3000:]}
print("RESULTS " + json.dumps(results))
"""


def run_scripts(jobs: dict[str, tuple[Path, list]], env: dict | None = None, timeout: float = 900) -> dict[str, dict]:
    """Run `{name: (script path, arguments)}` in one process (`env`: its environment, default this
    one's); returns name -> {"stdout": what it printed}, with "exit": the status when it called
    `sys.exit` (argparse's --help does) or "error": the traceback's end when it raised."""
    listed = [(name, str(script), [str(a) for a in args]) for name, (script, args) in jobs.items()]
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(listed)],
        cwd=ROOT, env=env or dict(os.environ), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULTS ")), None)
    assert line, done.stderr[-3000:]
    return json.loads(line.removeprefix("RESULTS "))


def output_of(result: dict) -> str:
    """What a script printed, or its traceback when it raised (so an assertion on the text shows it)."""
    return result.get("error") or result["stdout"]
