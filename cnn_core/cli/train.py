"""CLI commands that train: `train` (also fine-tuning with --from) and `resume`.

In `train` and `resume`, the first Ctrl-C pauses after the current batch and saves a resume point;
a second one stops at once (the run is left interrupted, resumable from its last checkpoint).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from cnn_core.cli.common import arch_choice, data_args, data_config, dataset_help, emit, runs_dir_arg
from cnn_core.jobs import cluster
from cnn_core.progress import to_stderr
from cnn_core.settings import fields


def _reporter(args: argparse.Namespace, epochs: int, run_dir=None):
    started = time.perf_counter()

    def report(epoch: int, row: dict) -> None:
        if run_dir is not None and not report.told:  # the precision is decided as training starts
            report.told = True
            _tell_precision(run_dir)
        values = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds"))
        line = f"epoch {epoch + 1}/{epochs}  {values}  ({time.perf_counter() - started:.1f} s)"
        print(json.dumps(row) if args.json else line, file=sys.stderr if args.json else sys.stdout, flush=True)

    report.told = False
    return report


def _tell_precision(run_dir) -> None:
    """One line on stderr: the precision this run trains in and why (what auto chose, as the Train page says)."""
    from pathlib import Path

    from cnn_core.runs.store import read_json
    from cnn_core.training.precision import from_record

    choice = from_record(read_json(Path(run_dir) / "config.json").get("precision"))
    if choice is not None:
        print(f"precision: {choice.sentence}", file=sys.stderr, flush=True)


def _train_session(args, dataset, arch, config, run_dir, store, start) -> int:
    """Run one training session in this process, with Ctrl-C as pause, then stop at once."""
    from cnn_core.training.fit import new_record, run_training
    from cnn_core.training.live import Control

    control = Control()

    def on_interrupt(*_):
        if control.pause.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        control.pause.set()
        print("pausing after the current batch (Ctrl-C again stops at once)...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        result = run_training(
            dataset,
            arch,
            config,
            run_dir,
            store,
            new_record(dataset, config),
            control,
            _reporter(args, config.epochs, run_dir),
            start,
        )
    except KeyboardInterrupt:
        store.set_status(run_dir, "interrupted", "stopped at once with Ctrl-C; resume it from its last checkpoint")
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    return _outcome(args, result)


def _cluster_session(args, submit) -> int:
    """Run one training session as a job on the Ray cluster: `submit(registry)` starts it; epochs
    are printed as they arrive. Ctrl-C pauses (the worker saves a resume point); twice leaves at once."""
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.training.fit import TrainResult

    job = submit(JobRegistry(max_running=1))
    print(f"run {job.run_id}: submitted to the Ray cluster at {cluster.address()}", file=sys.stderr, flush=True)
    report, shown, queued = _reporter(args, job.request.config.epochs, job.run_dir), 0, True

    def on_interrupt(*_):
        if job.pause_requested:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        job.pause("cli")
        print("pausing after the current batch (Ctrl-C again leaves at once)...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        while job.active or job.thread.is_alive():
            if queued and job.status == "running":
                queued = False
                print(f"training on {job.worker['host']} (process {job.worker['pid']})" if job.worker else "training",
                      file=sys.stderr, flush=True)  # fmt: skip
            history = job.record.history()
            for row in history[shown:]:
                report(int(row["epoch"]) - 1, {k: v for k, v in row.items()})
            shown = len(history)
            job.wait(0.5)
    finally:
        signal.signal(signal.SIGINT, previous)
    for row in job.record.history()[shown:]:
        report(int(row["epoch"]) - 1, row)
    snap = job.snapshot()
    return _outcome(args, job.result or TrainResult(job.run_dir, snap.status, snap.message, history=job.record.history()))


def _outcome(args, result) -> int:
    """Print a session's outcome (--json: one object); the exit status says whether it went wrong."""
    final = {
        "run_dir": str(result.run_dir),
        "status": result.status,
        "message": result.message,
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "epochs": len(result.history),
        "diagnosis": result.diagnosis,
    }
    lines = [f"run: {result.run_dir} ({result.status})"]
    if result.message:
        lines.append(result.message)
    if result.status in ("paused", "interrupted"):
        lines.append(f"continue with: python -m cnn_core resume {result.run_dir.name}")
    if result.test_accuracy is not None:
        lines.append(f"test accuracy: {result.test_accuracy:.4f}  test loss: {result.test_loss:.4f}")
    lines += [f"warning: {w}" for w in result.warnings]
    if result.diagnosis:
        lines.append("diagnosis:")
        lines += [f"  - {f['title']}: {f['evidence']}. {f['suggestion']}" for f in result.diagnosis]
    emit(args, final, lines)
    return 0 if result.status in ("completed", "stopped", "paused") else 1


def cmd_train(args: argparse.Namespace) -> int:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import TrainConfig
    from cnn_core.training.fit import Start, run_config
    from cnn_core.training.transfer import parent_of

    config = fields.from_arguments(TrainConfig, args)
    config.check()
    cluster.use_address(args.ray_address)
    if cluster.address():
        cluster.connect()  # an unreachable cluster is said before the data loads
    dataset = load_dataset(data_config(args, args.dataset), to_stderr)
    store = RunStore(args.runs_dir)
    parent = (
        parent_of(store.resolve(getattr(args, "from"), allow_path=True), dataset.input_shape, args.freeze)
        if getattr(args, "from")
        else None
    )
    arch = parent.arch if parent else arch_choice(args.arch)
    if cluster.address():
        return _cluster_session(args, lambda jobs: jobs.submit(dataset, arch, config, "cli", store, parent))
    run_dir = store.new_run(run_config(dataset, arch, config, "cli", parent), "finetune" if parent else arch.preset)
    return _train_session(args, dataset, arch, config, run_dir, store, Start(parent=parent))


def cmd_resume(args: argparse.Namespace) -> int:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.jobs.registry import plan_resume
    from cnn_core.runs.store import RunStore

    store = RunStore(args.runs_dir)
    plan = plan_resume(store, store.resolve(args.run, allow_path=True), "cli", args.epochs or 0)
    cluster.use_address(args.ray_address)
    if cluster.address():
        cluster.connect()
        dataset = load_dataset(plan.data, to_stderr)
        return _cluster_session(args, lambda jobs: jobs.resume(plan.run_dir, "cli", dataset, args.epochs or 0, store))
    dataset = load_dataset(plan.data, to_stderr)
    plan.save_settings()
    return _train_session(args, dataset, plan.arch, plan.config, plan.run_dir, store, plan.start)


def register(commands) -> None:
    from cnn_core.settings.config import TrainConfig

    p = commands.add_parser("train", help="train a model and save the run (Ctrl-C pauses; twice stops)")
    p.add_argument("--dataset", default="mnist-5k", help=dataset_help())
    p.add_argument(
        "--arch", default="keras-mnist",
        help="Architecture: a preset id (see `archs`) or a JSON architecture file. A preset's recommended settings "
        "(fashion-cnn has some) replace the defaults below; flags you give still win.",
    )  # fmt: skip
    p.add_argument(
        "--from",
        metavar="RUN",
        help="Fine-tune: start from this run's weights (its architecture; a new head if the classes differ).",
    )
    p.add_argument("--freeze", action="store_true", help="With --from: keep the convolutional layers as the parent learned them.")
    fields.add_arguments(p, TrainConfig)
    data_args(p)
    p.set_defaults(func=cmd_train, tensorflow=True)
    p = commands.add_parser("resume", help="continue a paused or interrupted run, or train a finished one longer")
    p.add_argument("run", help="run id or run folder")
    p.add_argument("--epochs", type=int, help="train this many more epochs (needed for a completed or stopped run)")
    p.set_defaults(func=cmd_resume, tensorflow=True)
    for name in ("train", "resume"):
        runs_dir_arg(commands.choices[name])
    for name in ("train", "resume"):
        commands.choices[name].add_argument(
            "--ray-address", metavar="HOST:PORT",
            help=f"train as a job on this Ray cluster (default: ${cluster.ADDRESS_ENV}; unset: in this process)",
        )  # fmt: skip
