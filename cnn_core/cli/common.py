"""What every command module shares: the data flags, the runs folder flag, JSON or text output,
and a quiet TensorFlow import."""

from __future__ import annotations

import argparse
import json
import os
import sys

from cnn_core.errors import StudioError
from cnn_core.settings import fields


def data_args(parser: argparse.ArgumentParser) -> None:
    """The declared data settings as flags (the dataset itself is each command's own argument)."""
    from cnn_core.settings.config import DataConfig

    fields.add_arguments(parser, DataConfig, skip=("dataset_id",), prefix="data_")


def data_config(args: argparse.Namespace, dataset_id: str):
    from cnn_core.settings.config import DataConfig

    return fields.from_arguments(DataConfig, args, prefix="data_", dataset_id=dataset_id)


def runs_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", help="runs folder (default: $CNN_STUDIO_RUNS_DIR or ./runs)")


def emit(args: argparse.Namespace, payload, lines: list[str]) -> None:
    """Print `payload` as JSON with --json, else the human-readable lines."""
    print(json.dumps(payload, indent=2, ensure_ascii=False) if args.json else "\n".join(lines))


def quiet_tensorflow_import() -> None:
    """Import TensorFlow with file descriptor 2 pointed at /dev/null: its C++ start-up lines
    ("Could not find cuda drivers ...", "failed call to cuInit") bypass Python's logging and every
    environment setting. Real failures still raise Python exceptions after stderr is restored."""
    if "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow

        tensorflow.config.list_logical_devices()  # device start-up logs its own CUDA probe
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def recommended(arch: str | None) -> dict:
    """A preset's recommended training settings, which stand in for the defaults (`train --arch` and
    `label-issues --dataset --arch`); {} for a JSON file or a preset without any."""
    from cnn_core.model.architectures import PRESETS

    preset = PRESETS.get(arch or "")
    return dict(preset.recommended) if preset else {}


def arch_choice(value: str):
    """A preset id, or a JSON architecture file, as the run's architecture choice."""
    from pathlib import Path

    from cnn_core.model.architectures import ArchitectureSpec
    from cnn_core.settings.config import ArchChoice

    if value.endswith(".json"):
        try:
            text = Path(value).read_text(encoding="utf-8")
        except OSError as exc:
            raise StudioError(f"cannot read {value} ({exc.strerror})") from None
        spec = ArchitectureSpec.from_json(text)
        return ArchChoice.custom(spec.layers, spec.name)
    choice = ArchChoice(value)
    choice.spec()
    return choice


def dataset_help() -> str:
    from cnn_core.settings.config import DataConfig

    return next(d.setting.help for d in fields.declared(DataConfig) if d.name == "dataset_id")
