"""CLI commands around training: `lr-find` before it, `checkpoints` after it, and `cluster`, a
one-node Ray cluster on loopback to try the Ray backend."""

from __future__ import annotations

import argparse
import sys
import time

from cnn_core.cli.common import arch_choice, data_args, data_config, dataset_help, emit, runs_dir_arg
from cnn_core.errors import StudioError
from cnn_core.jobs import cluster
from cnn_core.progress import to_stderr
from cnn_core.settings import fields


def cmd_cluster(args: argparse.Namespace) -> int:
    """Start a one-node Ray cluster on 127.0.0.1 and keep it until Ctrl-C: the Ray backend, tried on one machine."""
    from importlib.util import find_spec

    if find_spec("ray") is None:
        raise StudioError(f"Ray is not installed: {cluster.INSTALL_HINT}")
    if args.cpus < 1:
        raise StudioError("--cpus must be at least 1")
    local = cluster.LocalCluster(cpus=args.cpus).start()
    try:
        exports = [f"export {k}={v}" for k, v in local.env().items()]
        lines = [
            f"a Ray cluster with {args.cpus} CPU(s) runs at {local.address}, on loopback only; Ctrl-C stops it.",
            "In another shell, train on it from the app or the command line:", *exports,
            "make run    # or: cnn-studio serve, or: python -m cnn_core train ...",
        ]  # fmt: skip
        emit(args, {"address": local.address, "env": local.env()}, lines)
        sys.stdout.flush()
        while local.process.poll() is None:
            time.sleep(1)
        print("the cluster stopped by itself:", local.log()[-500:], file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        local.stop()


def cmd_checkpoints(args: argparse.Namespace) -> int:
    from cnn_core.runs.store import RunStore
    from cnn_core.training import checkpoints

    run_dir = RunStore(args.runs_dir).resolve(args.run, allow_path=True)
    rows = [{**vars(info), "kind": "epoch"} for info in checkpoints.list_checkpoints(run_dir)]
    try:
        point = checkpoints.resume_point(run_dir)
        if point.name == checkpoints.RESUME:
            rows.append({**vars(point), "kind": "resume point"})
    except StudioError:
        pass
    lines = [f"{'checkpoint':<26}{'size':>10}{'loss':>9}{'val. loss':>11}  time"]
    for r in rows:
        loss = f"{r['loss']:.4f}" if r["loss"] is not None else "—"
        val = f"{r['val_loss']:.4f}" if r["val_loss"] is not None else "—"
        label = (
            f"epoch {r['epoch']}"
            + (f" + {r['step']} batches" if r["step"] else "")
            + (" (resume)" if r["kind"] != "epoch" else "")
        )
        lines.append(f"{label:<26}{r['bytes'] / 2**20:>8.2f} MB{loss:>9}{val:>11}  {r['seconds']:.1f} s")
    if not rows:
        lines.append("(no checkpoints)")
    emit(args, rows, lines)
    return 0


def cmd_lr_find(args: argparse.Namespace) -> int:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.settings.config import TrainConfig
    from cnn_core.training.lr_finder import find_learning_rate

    config = fields.from_arguments(TrainConfig, args)
    dataset = load_dataset(data_config(args, args.dataset), to_stderr)

    def report(done: int, steps: int) -> None:
        if not args.json and (done % 10 == 0 or done == steps):
            print(f"\rsweeping: batch {done}/{steps}", end="", file=sys.stderr, flush=True)

    result = find_learning_rate(dataset, arch_choice(args.arch), config, args.start, args.end, args.steps, report)
    print(file=sys.stderr) if not args.json else None
    lines = [
        f"suggested learning rate: {result.suggested:.3g}  (where the loss falls fastest)",
        f"swept {len(result.rates)} batches from {result.rates[0]:.1e} to {result.rates[-1]:.1e}"
        + (" (stopped when the loss exploded)" if result.stopped_early else ""),
        f"use it: python -m cnn_core train --dataset {args.dataset} --arch {args.arch} --learning-rate {result.suggested:.3g}",
    ]
    emit(args, result.to_dict(), lines)
    return 0


def register(commands) -> None:
    from cnn_core.settings.config import TrainConfig

    p = commands.add_parser("cluster", help="start a one-node Ray cluster on 127.0.0.1 to try the Ray backend (Ctrl-C stops it)")
    p.add_argument("--cpus", type=int, default=2, help="CPUs the cluster offers; each job takes 1 (default 2)")
    p.set_defaults(func=cmd_cluster)
    p = commands.add_parser("checkpoints", help="list a run's checkpoints with their sizes")
    p.add_argument("run", help="run id or run folder")
    p.set_defaults(func=cmd_checkpoints)
    p = commands.add_parser("lr-find", help="sweep the learning rate on a few batches and suggest one (as fastai's lr_find)")
    p.add_argument("--dataset", default="mnist-5k", help=dataset_help())
    p.add_argument("--arch", default="keras-mnist", help="Architecture: a preset id (see `archs`) or a JSON architecture file.")
    p.add_argument("--start", type=float, default=1e-7, help="the first learning rate of the sweep (default 1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="the last learning rate of the sweep (default 10)")
    p.add_argument("--steps", type=int, default=100, help="batches in the sweep (default 100)")
    fields.add_arguments(p, TrainConfig, skip=("epochs", "learning_rate", "schedule", "warmup_epochs", "lr_decay",
                                                   "lr_step_epochs", "checkpoint_keep", "checkpoint_budget_mb", "early_stopping", "patience"))  # fmt: skip
    data_args(p)
    p.set_defaults(func=cmd_lr_find, tensorflow=True)
    runs_dir_arg(commands.choices["checkpoints"])
