"""`cnn-studio`: the command line of cnn_core plus `serve`, which starts the app as `make run` does.

The app's files (app.py, pages/, .streamlit/config.toml) are found beside this package in a source
checkout, or in the installed `cnn_studio_app` package. Streamlit reads `.streamlit/config.toml`
from the working folder only, so `serve` passes the app's settings as flags: they apply wherever
the command is started.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

SERVE_HELP = "start the app (the same as `make run`); other options are passed to `streamlit run`"


def app_root() -> Path:
    """The folder holding app.py and pages/."""
    source = Path(__file__).resolve().parents[1]
    if (source / "app.py").is_file() and (source / "pages").is_dir():
        return source
    from importlib.util import find_spec

    spec = find_spec("cnn_studio_app")  # a namespace package: app.py is data, not a module to import
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: the app's files are not installed (no cnn_studio_app package); reinstall cnn-studio")
    return Path(next(iter(spec.submodule_search_locations)))


def config_flags(root: Path) -> list[str]:
    """The app's `.streamlit/config.toml` as `--section.option value` flags."""
    path = root / ".streamlit" / "config.toml"
    if not path.is_file():
        return []
    flags = []
    for section, options in tomllib.loads(path.read_text(encoding="utf-8")).items():
        for option, value in options.items():
            flags += [f"--{section}.{option}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def warm_up() -> None:
    """Parse the default dataset and import what the light pages need (0.4 s) before the server
    answers, so the first visitor does not wait for them. Done in a thread beside the server's start
    instead, the page took 0.15 s longer and the total from launch was the same. TensorFlow stays
    lazy: only the model pages need it."""
    import cnn_core.datasets

    cnn_core.datasets.warm_default()
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401


def take_ray_address(args: list[str]) -> list[str]:
    """Take `--ray-address HOST:PORT` (or `--ray-address=...`) out of the server's options: it sets
    `CNN_STUDIO_RAY_ADDRESS` for the app; the rest go to Streamlit."""
    from cnn_core import cluster

    rest, i = [], 0
    while i < len(args):
        if args[i] == "--ray-address" and i + 1 < len(args):
            cluster.use_address(args[i + 1])
            i += 2
            continue
        if args[i].startswith("--ray-address="):
            cluster.use_address(args[i].split("=", 1)[1])
        else:
            rest.append(args[i])
        i += 1
    return rest


def announce_backend() -> None:
    """Say where jobs will train. An unreachable cluster is a warning: the app serves anyway, and
    training says so until the cluster answers."""
    from cnn_core import cluster
    from cnn_core.errors import StudioError

    if not cluster.address():
        return
    try:
        cluster.check_reachable(cluster.address())
        print(f"CNN Studio: training jobs run on the Ray cluster at {cluster.address()}", file=sys.stderr)
    except StudioError as exc:
        print(f"CNN Studio: warning: {exc}. The app starts anyway; training will say so until the cluster answers.",
              file=sys.stderr)  # fmt: skip


def serve(streamlit_args: list[str]) -> int:
    """Run the app's Streamlit server until it is stopped."""
    from streamlit.web import cli

    from ui.runtime import configure_streamlit

    streamlit_args = take_ray_address(streamlit_args)
    announce_backend()
    root = app_root()
    sys.path.insert(0, str(root))  # pages import `ui` and `cnn_core` from here in a source checkout
    configure_streamlit()
    warm_up()
    sys.argv = ["streamlit", "run", str(root / "app.py"), *config_flags(root), *streamlit_args]
    return cli.main()


def main(argv: list[str] | None = None) -> int:
    """The `cnn-studio` command."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        if {"-h", "--help"} & set(argv[1:]):
            print(f"usage: cnn-studio serve [--ray-address HOST:PORT] [streamlit options]\n\n{SERVE_HELP}\n\n"
                  "--ray-address HOST:PORT  train jobs on this Ray cluster (default: $CNN_STUDIO_RAY_ADDRESS)")  # fmt: skip
            return 0
        return serve(argv[1:])
    from cnn_core.cli import main as core_main

    return core_main(argv, prog="cnn-studio", extra_commands={"serve": SERVE_HELP})


if __name__ == "__main__":
    sys.exit(main())
