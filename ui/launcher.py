"""`cnn-studio`: the command line of cnn_core plus `serve`, which starts the app as `make run` does.

The app's files (app.py, pages/, .streamlit/config.toml) are found beside this package in a source
checkout, or in the installed `cnn_studio_app` package. Streamlit reads `.streamlit/config.toml`
from the working folder only, so `serve` passes the app's settings as flags: they apply wherever
the command is started.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlencode

SERVE_HELP = "start the app (the same as `make run`); other options are passed to `streamlit run`"
SERVE_USAGE = f"""usage: cnn-studio serve [--classroom] [--ray-address HOST:PORT] [streamlit options]

{SERVE_HELP}

--classroom              classroom mode: listen on every interface, admit browsers with the class
                         code or the teacher code, keep each learner's runs private
                         (default: $CNN_STUDIO_CLASSROOM); the codes come from
                         $CNN_STUDIO_CLASS_CODE and $CNN_STUDIO_TEACHER_CODE, else are made at start
--ray-address HOST:PORT  train jobs on this Ray cluster (default: $CNN_STUDIO_RAY_ADDRESS)
--server.address ADDR    where to listen (default: 127.0.0.1; 0.0.0.0 in classroom mode)
--server.port PORT       the port (default: 8501)"""
EXPOSED = ("every page, every run and its files, and this machine's folders, to anyone who can reach "
           "the port, with no code")  # fmt: skip


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
            if f"{section}.{option}" != "server.address":  # `listen_address` decides it
                flags += [f"--{section}.{option}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def warm_up() -> None:
    """Parse the default dataset and import what the light pages need (0.4 s) before the server
    answers, so the first visitor does not wait for them. Done in a thread beside the server's start
    instead, the page took 0.15 s longer and the total from launch was the same. TensorFlow stays
    lazy: only the model pages need it."""
    import cnn_core.data.datasets

    cnn_core.data.datasets.warm_default()
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401


def take_ray_address(args: list[str]) -> list[str]:
    """Take `--ray-address HOST:PORT` (or `--ray-address=...`) out of the server's options: it sets
    `CNN_STUDIO_RAY_ADDRESS` for the app; the rest go to Streamlit."""
    from cnn_core.jobs import cluster

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


def take_classroom(args: list[str]) -> list[str]:
    """Take `--classroom` out of the server's options: it sets `CNN_STUDIO_CLASSROOM=1` for the app."""
    from cnn_core.access import classroom

    if "--classroom" in args:
        os.environ[classroom.CLASSROOM_ENV] = "1"
    return [a for a in args if a != "--classroom"]


def option(args: list[str], name: str) -> str | None:
    """The value of Streamlit option `--name` in `args` (as `--name VALUE` or `--name=VALUE`), or None."""
    found = None
    for i, arg in enumerate(args):
        if arg == f"--{name}" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(f"--{name}="):
            found = arg.split("=", 1)[1]
    return found


def is_loopback(address: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:  # a host name: it may name any interface
        return False


def listen_address(args: list[str], classroom_mode: bool) -> list[str]:
    """`args` with the address to listen on: the user's `--server.address` if given, else loopback
    (personal mode) or every interface (classroom mode). Warns, on one line, when a personal server
    is told to listen beyond this machine."""
    given = option(args, "server.address")
    if given is None:
        return [*args, "--server.address", "0.0.0.0" if classroom_mode else "127.0.0.1"]
    if not classroom_mode and not is_loopback(given):
        print(f"CNN Studio: warning: listening on {given} without --classroom exposes {EXPOSED}.", file=sys.stderr)
    return args


def _host_for_links(address: str) -> str:
    """A host name learners can type: the address given, else this machine's outward address."""
    if address not in ("0.0.0.0", "::", ""):
        return f"[{address}]" if ":" in address else address
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # a documentation address: a UDP connect sends nothing
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


def announce_classroom(args: list[str]) -> None:
    """Make (or read) the class and teacher codes and print both links, and where the codes came from."""
    from cnn_core.access import classroom

    given = {var: bool(os.environ.get(var, "").strip()) for var in (classroom.CLASS_CODE_ENV, classroom.TEACHER_CODE_ENV)}
    class_code, teacher_code = classroom.ensure_codes()
    base = f"http://{_host_for_links(option(args, 'server.address') or '')}:{option(args, 'server.port') or 8501}/"
    print("CNN Studio: classroom mode", file=sys.stderr)
    for label, code, var in (("class link  ", class_code, classroom.CLASS_CODE_ENV),
                             ("teacher link", teacher_code, classroom.TEACHER_CODE_ENV)):  # fmt: skip
        origin = f"from ${var}" if given[var] else f"made now; set ${var} to keep it across restarts"
        print(f"  {label}: {base}?{urlencode({'code': code})}  ({origin})", file=sys.stderr)


def announce_backend() -> None:
    """Say where jobs will train. An unreachable cluster is a warning: the app serves anyway, and
    training says so until the cluster answers."""
    from cnn_core.errors import StudioError
    from cnn_core.jobs import cluster

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

    from cnn_core.access import classroom
    from cnn_core.data import storage
    from cnn_core.errors import StudioError
    from ui.runtime import configure_streamlit

    streamlit_args = take_ray_address(take_classroom(streamlit_args))
    streamlit_args = listen_address(streamlit_args, classroom.enabled())
    if classroom.enabled():
        try:
            announce_classroom(streamlit_args)
        except StudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    announce_backend()
    root = app_root()
    sys.path.insert(0, str(root))  # pages import `ui` and `cnn_core` from here in a source checkout
    configure_streamlit()
    warm_up()
    storage.start_sweeper()  # uploads and temporary folders no run uses, after their retention
    sys.argv = ["streamlit", "run", str(root / "app.py"), *config_flags(root), *streamlit_args]
    try:
        code = cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    # Leave without the interpreter's final garbage collection: after a training it can hang in
    # TensorFlow's objects for ever (4 of 5 servers that trained, measured). Every job thread is a
    # daemon and every run file is written atomically, so nothing is lost.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """The `cnn-studio` command."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        if {"-h", "--help"} & set(argv[1:]):
            print(SERVE_USAGE)
            return 0
        return serve(argv[1:])
    from cnn_core.cli import main as core_main

    return core_main(argv, prog="cnn-studio", extra_commands={"serve": SERVE_HELP})


if __name__ == "__main__":
    sys.exit(main())
