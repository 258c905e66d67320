"""`label-issues`: images whose given label the data itself doubts (confident learning).

    python -m cnn_core label-issues (--dataset D --arch A | RUN) [--folds K] [--epochs N] [--top N] [--json]

k models train on folds of the training split (with `train`'s data and training flags, or a
run's own settings); each image is scored by the model that did not see it, and cleanlab picks
the images whose label is most likely wrong, lowest self-confidence first.
"""

from __future__ import annotations

import argparse
import sys

from cnn_core.cli.common import arch_choice, data_args, dataset_help, emit, recommended, runs_dir_arg
from cnn_core.errors import StudioError
from cnn_core.jobs import cluster
from cnn_core.settings import fields

FIELDS = ("index", "file", "given", "suggested", "score")


class _NotGiven:
    """The default of every settings flag, so a flag given at its default value (`--epochs 5`) still
    counts as given: argparse alone cannot tell it from a flag left out."""

    def __repr__(self) -> str:
        return "<not given>"


NOT_GIVEN = _NotGiven()


def _dests(cls, prefix: str) -> list[str]:
    """The argparse destinations of `cls`'s flags (the dataset is an argument of its own, not a flag)."""
    return [prefix + d.name for d in fields.declared(cls) if d.name != "dataset_id"]


def _given(args: argparse.Namespace, prefix: str, cls) -> dict:
    """The flags of `cls` given on the command line, whatever their values."""
    return {
        dest[len(prefix) :]: getattr(args, dest)
        for dest in _dests(cls, prefix)
        if getattr(args, dest, NOT_GIVEN) is not NOT_GIVEN
    }


def _settings(args: argparse.Namespace):
    """(data config, architecture, train config): a run's settings, or the defaults (a preset's
    recommended training settings among them, as `train --arch PRESET` uses), with every flag given on top."""
    from dataclasses import replace

    from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig, train_config_of

    if bool(args.run) == bool(args.dataset):
        raise StudioError("give either a run (RUN) or --dataset with --arch, not both or neither")
    data_flags, train_flags = _given(args, "data_", DataConfig), _given(args, "", TrainConfig)
    if args.dataset:
        arch = args.arch or "keras-mnist"
        return DataConfig(args.dataset, **data_flags), arch_choice(arch), TrainConfig(**(recommended(arch) | train_flags))
    from cnn_core.runs.store import RunStore, read_json

    run_dir = RunStore(args.runs_dir).resolve(args.run, allow_path=True)
    record = read_json(run_dir / "config.json")
    data = replace(DataConfig.from_dict(record.get("data", {})), **data_flags)
    train = replace(train_config_of(record), **train_flags)
    arch = arch_choice(args.arch) if args.arch else ArchChoice.from_dict(record.get("architecture", {}))
    return data, arch, train


def _folds(text: str) -> int:
    """--folds as argparse reads it: a bad value is a usage error before TensorFlow's import."""
    from cnn_core.inspection.folds import FOLDS_HELP, MAX_FOLDS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--folds must be {FOLDS_HELP}, not {text!r}") from None
    if not 2 <= value <= MAX_FOLDS:
        raise argparse.ArgumentTypeError(f"--folds must be {FOLDS_HELP}, not {value}")
    return value


def _reporter():
    shown = [""]

    def report(where) -> None:
        if where.text != shown[0]:
            shown[0] = where.text
            print(where.text, file=sys.stderr, flush=True)

    return report


def cmd_label_issues(args: argparse.Namespace) -> int:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.inspection.label_issues import find
    from cnn_core.progress import to_stderr

    if args.top is not None and args.top < 1:
        raise StudioError(f"--top must be at least 1, not {args.top}")
    data, arch, train = _settings(args)
    train.check()
    cluster.use_address(args.ray_address)
    if cluster.address():
        cluster.connect()  # an unreachable cluster is said before the data loads
    dataset = load_dataset(data, to_stderr)
    where = f"the Ray cluster at {cluster.address()}" if cluster.address() else "this process"
    print(f"{args.folds} fold trainings of {train.epochs} epoch(s) on {len(dataset.train):,} training images, in {where}",
          file=sys.stderr, flush=True)  # fmt: skip
    rows = find(dataset, arch, train, args.folds, top=args.top, progress=_reporter(), owner="cli")
    rows = [{k: r[k] for k in FIELDS} for r in rows]
    lines = [f"{len(rows)} label issue(s) in {dataset.spec.id}'s training split, most doubtful first:"]
    lines += [
        f"  {r['file'] if r['file'] is not None else '#' + str(r['index'])}: given {r['given']}, "
        f"suggested {r['suggested']} (self-confidence {r['score']:.3f})"
        for r in rows
    ]
    emit(args, rows, lines)
    return 0


def register(commands) -> None:
    """Add the label-issues command."""
    from cnn_core.settings.config import DataConfig, TrainConfig

    p = commands.add_parser(
        "label-issues",
        help="find training images with a doubtful label: k fold models and confident learning (cleanlab)",
        description="Train one model per fold of the training split, score each image with the model that did not see "
        "it, and list the images whose given label is most likely wrong (cleanlab's find_label_issues, ranked by "
        "self-confidence). With RUN: the run's dataset, architecture and settings; flags given change them.",
    )
    p.add_argument("run", nargs="?", help="a run id or run folder: use its dataset, architecture and settings")
    p.add_argument("--dataset", help=dataset_help())
    p.add_argument(
        "--arch",
        help="Architecture: a preset id (see `archs`) or a JSON architecture file (default keras-mnist). With --dataset, "
        "a preset's recommended settings (fashion-cnn has some) replace the defaults; flags you give still win.",
    )
    p.add_argument("--folds", type=_folds, default=5, help="k: how many fold models train (2 to 20). Default: 5.")
    p.add_argument("--top", type=int, help="list at most this many issues (default: all cleanlab finds)")
    fields.add_arguments(p, TrainConfig)
    data_args(p)
    runs_dir_arg(p)
    p.add_argument(
        "--ray-address", metavar="HOST:PORT",
        help=f"train the folds as parallel tasks on this Ray cluster (default: ${cluster.ADDRESS_ENV}; unset: in this process)",
    )  # fmt: skip
    given_or_not = dict.fromkeys(_dests(TrainConfig, "") + _dests(DataConfig, "data_"), NOT_GIVEN)
    p.set_defaults(func=cmd_label_issues, tensorflow=True, **given_or_not)
