"""CLI command `sweep`: train many variants of one model, searched and pruned by Optuna.

    python -m cnn_core sweep --dataset D --arch A --epochs N --trials K \\
        --param learning_rate=0.0003:0.01:log --param dropout=0.1,0.3,0.5 [--search grid|random|tpe] [--prune]

Every training flag applies to every trial. `--json` gives each trial's state: complete, pruned,
stopped (by request) or failed once it ended, running or paused while the sweep has not finished
it. Ctrl-C pauses the sweep (its trials save a resume
point); `sweep --resume ID` continues it, and a second Ctrl-C leaves at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from cnn_core.cli.common import arch_choice, data_args, data_config, dataset_help, emit, runs_dir_arg
from cnn_core.jobs import cluster
from cnn_core.progress import to_stderr
from cnn_core.settings import fields


def _definition(args: argparse.Namespace):
    from cnn_core.errors import StudioError
    from cnn_core.settings.config import TrainConfig
    from cnn_core.sweeps.definition import SweepDefinition
    from cnn_core.sweeps.space import parse_param

    if not args.param:
        raise StudioError("say what to sweep: --param learning_rate=0.0003:0.01:log (up to 4 of them)")
    definition = SweepDefinition(
        data_config(args, args.dataset), arch_choice(args.arch), fields.from_arguments(TrainConfig, args),
        tuple(parse_param(p) for p in args.param), args.trials, args.time_limit, args.search, args.prune or "",
    )  # fmt: skip
    definition.check()
    return definition


def _sweep(args: argparse.Namespace):
    """The sweep to drive and its data: a new one from the flags, or the one `--resume` names (a
    sweep of the command line only)."""
    from cnn_core.data.datasets import load_dataset
    from cnn_core.errors import StudioError
    from cnn_core.runs.store import RunStore
    from cnn_core.sweeps import definition as sweeps

    store = RunStore(args.runs_dir)
    if args.resume:
        sweep = sweeps.load(store, args.resume)
        if sweep.owner != "cli":  # its trials are runs of the browser session that started it
            raise StudioError(f"sweep {sweep.sweep_id} was started on the Sweeps page: resume it there, by its owner")
        if sweep.status().get("status") in ("running", "queued"):
            raise StudioError(f"sweep {sweep.sweep_id} is still running in another process")
        return store, sweep, load_dataset(sweep.definition.data, to_stderr)
    definition = _definition(args)
    dataset = load_dataset(definition.data, to_stderr)  # a missing dataset is said before a sweep is made
    return store, sweeps.create(store, definition, "cli"), dataset


def cmd_sweep(args: argparse.Namespace) -> int:
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.sweeps.driver import SweepDriver

    cluster.use_address(args.ray_address)
    if cluster.address():
        cluster.connect()  # an unreachable cluster is said before the data loads
    store, sweep, dataset = _sweep(args)
    print(f"sweep {sweep.sweep_id}: {sweep.definition.budget} trials ({sweep.folder})", file=sys.stderr, flush=True)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # a model per trial is retraced, as it should be
    out = sys.stderr if args.json else sys.stdout
    driver = SweepDriver(sweep, "cli", dataset, store, JobRegistry(), lambda text: print(text, file=out, flush=True))

    def on_interrupt(*_):
        if driver.pause_requested.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        driver.pause()
        print("pausing the sweep after each trial's current batch (Ctrl-C again leaves at once)...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        driver.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.report:
        from cnn_core.sweeps.report import write_report

        write_report(sweep, store, args.report)
        print(f"report: {args.report}", file=sys.stderr, flush=True)
    return _outcome(args, sweep, store, driver)


def _outcome(args, sweep, store, driver) -> int:
    from cnn_core.sweeps import study

    rows = study.trial_rows(sweep, store)
    top = study.best(rows)
    payload = {
        "sweep": sweep.sweep_id,
        "status": driver.status,
        "message": driver.message,
        "trials": [r.to_json() for r in rows],
        "best": top.to_json() if top else None,
    }
    lines = [f"sweep {sweep.sweep_id}: {driver.status}" + (f" ({driver.message})" if driver.message else "")]
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        val = f"{r.val_accuracy:.4f}" if r.val_accuracy is not None else "-"
        lines.append(f"  trial {r.number:>3}  {r.state:<9} val {val}  {params}  run {r.run_id}")
    if top is not None:
        lines.append(f"best: trial {top.number}, run {top.run_id}")
    if driver.status in ("paused", "failed"):
        lines.append(f"continue with: python -m cnn_core sweep --resume {sweep.sweep_id}")
    emit(args, payload, lines)
    return 0 if driver.status in ("completed", "paused") else 1


def register(commands) -> None:
    from cnn_core.settings.config import TrainConfig
    from cnn_core.sweeps.definition import PRUNERS, SEARCHES

    p = commands.add_parser("sweep", help="train many variants, searched and pruned by Optuna (Ctrl-C pauses)")
    p.add_argument("--dataset", default="mnist-5k", help=dataset_help())
    p.add_argument("--arch", default="keras-mnist", help="Architecture: a preset id (see `archs`) or a JSON architecture file.")
    p.add_argument(
        "--param", action="append", metavar="NAME=VALUES",
        help="A setting to vary: a list (dropout=0.1,0.3,0.5) or a range (learning_rate=0.0003:0.01:log; a grid "
        "splits a range into 3 points, or low:high:lin:5 into 5). Give 1 to 4.",
    )  # fmt: skip
    p.add_argument("--trials", type=int, default=12, help="How many trials to train (a grid: at most its combinations).")
    p.add_argument("--search", choices=list(SEARCHES), default="tpe", help="How to choose each trial's settings.")
    p.add_argument(
        "--prune", nargs="?", const="median", choices=[k for k in PRUNERS if k],
        help="Stop hopeless trials early, by each epoch's validation accuracy (median, the default, or hyperband).",
    )  # fmt: skip
    p.add_argument("--time-limit", type=float, metavar="MINUTES", help="Start no trial after this, and stop running ones.")
    p.add_argument("--resume", metavar="SWEEP", help="Continue this paused or interrupted sweep (its own settings).")
    p.add_argument("--report", metavar="FILE.html", help="Write the sweep's report (one HTML file) at the end.")
    fields.add_arguments(p, TrainConfig)
    data_args(p)
    runs_dir_arg(p)
    p.add_argument(
        "--ray-address", metavar="HOST:PORT",
        help=f"train the trials as jobs on this Ray cluster (default: ${cluster.ADDRESS_ENV}; unset: in this process)",
    )  # fmt: skip
    p.set_defaults(func=cmd_sweep, tensorflow=True)
