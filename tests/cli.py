"""`python -m cnn_core ARGS`, run inside the test process.

A new Python process imports TensorFlow again: 7-8 s of CPU on the 2-core test machine, and the CLI
tests called the CLI dozens of times. `cli` runs the same entry point (`cnn_core.cli.main`) with the
same arguments here and returns what `subprocess.run(..., capture_output=True, text=True)` would:
the exit status and both streams as text. An exception that escapes is printed as Python would
print it, with status 1, so a "no traceback" assertion still sees one.

Tests where the process itself is under test still start real processes: kill -9 and Ctrl-C,
a fresh interpreter loading a model, the exported script, and at least one `python -m cnn_core`
per CLI test module.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import traceback


def cli(*args) -> subprocess.CompletedProcess:
    """Run the CLI with `args` in this process; returns its exit status, stdout and stderr."""
    from cnn_core.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    environ = dict(os.environ)  # a process's environment dies with it: `--ray-address` must not outlive the call
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _restored(environ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help/--version
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=err)
        except Exception:  # noqa: BLE001 - a real process would print the traceback and exit 1
            traceback.print_exc(file=err)
            code = 1
    return subprocess.CompletedProcess(["python", "-m", "cnn_core", *argv], code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _restored(environ: dict):
    """Put os.environ back to `environ` on the way out. (Seen: the Ray CLI test's `--ray-address` stayed
    in the worker's environment, and later sweep tests of that worker trained on the cluster.)"""
    try:
        yield
    finally:
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update(environ)
