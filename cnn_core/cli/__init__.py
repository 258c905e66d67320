"""Command line: `python -m cnn_core COMMAND` (or `cnn-studio COMMAND`).

Every command takes `--json`. A user error exits with status 2 and one line on stderr, never a
traceback. Commands live in themed modules, each with a `register(commands)` that adds its parsers.
"""

from __future__ import annotations

import argparse
import os
import sys

from cnn_core.cli.common import quiet_tensorflow_import
from cnn_core.errors import StudioError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (status 2), like every other user error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def version() -> str:
    """The installed CNN Studio version."""
    from importlib import metadata

    try:
        return metadata.version("cnn-studio")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(prog: str = "python -m cnn_core", extra_commands: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. `extra_commands` (name → help) lists commands another front end handles
    (the `cnn-studio` launcher's `serve`), so `--help` shows them."""
    from cnn_core.cli import data, labels, models, sweep, tools, train

    parser = Parser(prog=prog, description="CNN Studio from the command line.")
    parser.add_argument("--version", action="version", version=f"CNN Studio {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in (data, train, tools, models, sweep, labels):
        module.register(commands)
    for p in commands.choices.values():
        p.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text in (extra_commands or {}).items():
        commands.add_parser(name, help=text)
    parser.commands = commands.choices
    return parser


def _recommended(args: argparse.Namespace) -> dict:
    """`train --arch PRESET`: the preset's recommended settings, which stand in for the defaults."""
    from cnn_core.cli.common import recommended

    return recommended(getattr(args, "arch", None)) if args.command == "train" and not getattr(args, "from") else {}


def check_names(args: argparse.Namespace) -> None:
    """Refuse an unknown run, preset or dataset before TensorFlow's 7-second import, not after it."""
    from cnn_core.data.datasets import get_spec
    from cnn_core.model.architectures import get_preset
    from cnn_core.runs.store import RunStore

    if isinstance(getattr(args, "run", None), str):
        RunStore(getattr(args, "runs_dir", None)).resolve(args.run, allow_path=True)
    arch = getattr(args, "arch", None)
    if isinstance(arch, str) and not arch.endswith(".json"):
        get_preset(arch)
    if isinstance(getattr(args, "dataset", None), str):
        get_spec(args.dataset)


def main(argv: list[str] | None = None, prog: str = "python -m cnn_core", extra_commands: dict | None = None) -> int:
    """Run one CLI command; returns the exit status (2 for a user error, with one line on stderr)."""
    parser = build_parser(prog, extra_commands)
    args = parser.parse_args(argv)
    recommended = _recommended(args)
    if recommended:  # parse again with the preset's settings as defaults: flags given still win
        parser.commands[args.command].set_defaults(**recommended)
        args = parser.parse_args(argv)
    try:
        if getattr(args, "tensorflow", False):
            check_names(args)
            quiet_tensorflow_import()
        return args.func(args)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for users; CNN_STUDIO_DEBUG=1 shows the traceback
        if os.environ.get("CNN_STUDIO_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (set CNN_STUDIO_DEBUG=1 for details)", file=sys.stderr)
        return 1
