"""CLI commands on trained models: `evaluate`, `predict`, `import`."""

from __future__ import annotations

import argparse

from cnn_core.cli import data_args, data_config, emit, runs_dir_arg
from cnn_core.errors import StudioError


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cnn_core.evaluation import evaluate_model, load_run
    from cnn_core.runs import RunStore

    model, dataset, _ = load_run(args.run, RunStore(args.runs_dir), args.epoch)
    result = evaluate_model(model, dataset)
    info = {**result.summary(), "epoch": args.epoch}
    lines = [
        f"test accuracy {result.accuracy:.4f}  test loss {result.loss:.4f}  ({len(result.y_true)} images)"
        + (f" at epoch {args.epoch}" if args.epoch else ""),
        f"  {'class':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}",
    ]
    lines += [
        f"  {r['class']:<14}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['f1']:>8.3f}{r['support']:>9}" for r in info["per_class"]
    ]
    lines.append("confusion matrix (rows: true, columns: predicted):")
    lines += ["  " + " ".join(f"{v:>4}" for v in row) for row in info["confusion_matrix"]]
    emit(args, info, lines)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from cnn_core.modelio import load_model_file, model_shapes
    from cnn_core.preprocess import prepare
    from cnn_core.runs import RunStore, read_json

    if bool(args.run) == bool(args.model):
        raise StudioError("give either --run RUN or --model FILE.keras")
    if args.run:
        path = RunStore(args.runs_dir).resolve(args.run)
        model, dataset = load_model_file(path / "model.keras"), read_json(path / "config.json")["dataset"]
        names, digits = dataset["class_names"], dataset.get("digits_style", False)
    else:
        model = load_model_file(args.model)
    shape, classes = model_shapes(model)
    if args.model:
        names, digits = [str(i) for i in range(classes)], shape[-1] == 1
    x = prepare(args.image, shape, digits)
    probs = np.asarray(model(x[None], training=False))[0]
    order = np.argsort(-probs)[: args.top]
    top = [{"class": names[i], "probability": float(probs[i])} for i in order]
    payload = {"predicted": top[0]["class"], "confidence": top[0]["probability"], "top": top}
    emit(args, payload, [f"{t['class']:<16} {t['probability']:.4f}" for t in top])
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnn_core import import_export
    from cnn_core.datasets import load_dataset
    from cnn_core.runs import RunStore

    store, path = RunStore(args.runs_dir), Path(args.file)
    if not path.is_file():
        raise StudioError(f"{path}: no such file")
    if path.suffix.lower() == ".zip":
        run_dir = import_export.import_run_zip(path, store)
    else:
        run_dir = import_export.import_model(path, load_dataset(data_config(args, args.dataset)), store)
    info = store.info(run_dir)
    emit(
        args,
        {"run_dir": str(run_dir), "status": info.status, "test_accuracy": info.test_accuracy},
        [f"imported as {run_dir} ({info.status})"],
    )
    return 0


def register(commands) -> None:
    p = commands.add_parser("evaluate", help="test metrics and confusion matrix of a saved run (or one of its checkpoints)")
    p.add_argument("run", help="run id or run folder")
    p.add_argument("--epoch", type=int, help="evaluate the checkpoint saved after this epoch (default: the final model)")
    p.set_defaults(func=cmd_evaluate, tensorflow=True)
    p = commands.add_parser("predict", help="classify one image with a run's model or a .keras file")
    p.add_argument("--run")
    p.add_argument("--model")
    p.add_argument("--image", required=True)
    p.add_argument("--top", type=int, default=3)
    p.set_defaults(func=cmd_predict, tensorflow=True)
    p = commands.add_parser("import", help="import a run zip, or a .keras model evaluated on --dataset")
    p.add_argument("file")
    p.add_argument("--dataset", default="mnist-5k", help="the dataset a model must fit (default mnist-5k)")
    data_args(p)
    p.set_defaults(func=cmd_import, tensorflow=True)
    for name in ("evaluate", "predict", "import"):
        runs_dir_arg(commands.choices[name])
