"""Sweeps: a 12-trial sweep of learning rate and dropout on mnist-5k (keras-mnist, EPOCHS epochs a
trial), with and without the median pruner, in this process and on a 2-CPU Ray cluster on
127.0.0.1 (started and stopped here).

Random search with a fixed seed, so every configuration tries the same 12 settings and the
figures differ only by pruning and by where the trials train. Reported for each: the wall time,
the trials complete and pruned, the epochs trained in all, and the best validation accuracy (and
that trial's test accuracy). In process, trials train one at a time (this machine's one training
slot); on the cluster, two at once, each in a new worker process that imports TensorFlow first.
"""

from __future__ import annotations

import os
import time

from bench.common import save, table

TRIALS, EPOCHS = 12, 4
PARAMS = ("learning_rate=0.0001:0.1:log", "dropout=0.0:0.6:lin")


def _sweep(dataset, prune: str, registry) -> dict:
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, TrainConfig
    from cnn_core.sweeps import definition as sweeps
    from cnn_core.sweeps import study
    from cnn_core.sweeps.definition import SweepDefinition
    from cnn_core.sweeps.driver import SweepDriver
    from cnn_core.sweeps.space import parse_param

    definition = SweepDefinition(
        dataset.config, ArchChoice("keras-mnist"), TrainConfig(epochs=EPOCHS), tuple(map(parse_param, PARAMS)),
        trials=TRIALS, search="random", prune=prune,
    )  # fmt: skip
    store = RunStore()
    driver = SweepDriver(sweeps.create(store, definition, "cli"), "cli", dataset, store, registry)
    began = time.perf_counter()
    driver.run()
    wall = time.perf_counter() - began
    rows = study.trial_rows(driver.sweep, store)
    top = study.best(rows)
    return {
        "wall_s": round(wall, 1), "status": driver.status, "peak_at_once": driver.peak,
        "complete": sum(r.state == "complete" for r in rows), "pruned": sum(r.state == "pruned" for r in rows),
        "failed": sum(r.state == "failed" for r in rows), "epochs_trained": sum(r.epochs for r in rows),
        "best_val_accuracy": round(top.val_accuracy, 4) if top else None,
        "best_test_accuracy": round(top.test_accuracy, 4) if top and top.test_accuracy is not None else None,
        "best_params": {k: round(v, 5) if isinstance(v, float) else v for k, v in (top.params if top else {}).items()},
    }  # fmt: skip


def run() -> dict:
    import tempfile

    from cnn_core.data.datasets import load_dataset
    from cnn_core.jobs import cluster
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.settings.config import DataConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    dataset = load_dataset(DataConfig(dataset_id="mnist-5k"))
    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-sweeps-") as runs:
        os.environ["CNN_STUDIO_RUNS_DIR"] = runs
        os.environ.pop(cluster.ADDRESS_ENV, None)
        for prune in ("", "median"):
            name = f"in_process_{prune or 'no_pruning'}"
            figures[name] = _sweep(dataset, prune, JobRegistry(max_running=1))
            print(name, figures[name], flush=True)
        with cluster.LocalCluster(cpus=2) as local:
            os.environ.update(local.env())
            try:
                for prune in ("", "median"):
                    name = f"ray_2_cpu_{prune or 'no_pruning'}"
                    figures[name] = _sweep(dataset, prune, JobRegistry(max_running=1))
                    print(name, figures[name], flush=True)
            finally:
                import ray

                ray.shutdown()
                cluster._joined.clear()
                os.environ.pop(cluster.ADDRESS_ENV, None)
    rows = [
        (name, f"{f['wall_s']} s; {f['complete']} complete, {f['pruned']} pruned, {f['failed']} failed; "
               f"{f['epochs_trained']} epochs trained; best val {f['best_val_accuracy']} (test {f['best_test_accuracy']}) "
               f"at {f['best_params']}; at most {f['peak_at_once']} at once")
        for name, f in figures.items()
    ]  # fmt: skip
    for where in ("in_process", "ray_2_cpu"):
        full, pruned = figures[f"{where}_no_pruning"]["wall_s"], figures[f"{where}_median"]["wall_s"]
        rows.append((f"{where}: pruning", f"{full / pruned:.2f}x faster than without"))
    for prune in ("no_pruning", "median"):
        rows.append((f"Ray 2 CPUs against in process ({prune})",
                     f"{figures[f'in_process_{prune}']['wall_s'] / figures[f'ray_2_cpu_{prune}']['wall_s']:.2f}x"))  # fmt: skip
    table(f"Sweeps: {TRIALS} trials of {', '.join(PARAMS)} (random, seed 0), keras-mnist on mnist-5k, {EPOCHS} epochs", rows)
    save("sweeps", figures)
    return figures
