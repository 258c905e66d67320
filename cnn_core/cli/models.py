"""CLI commands on trained models: `evaluate`, `predict`, `import`."""

from __future__ import annotations

import argparse

from cnn_core.cli.common import data_args, data_config, emit, quiet_tensorflow_import, runs_dir_arg
from cnn_core.errors import StudioError


def _run(args: argparse.Namespace):
    """The run folder the command line named: a run id, or a path a person typed (allowed here)."""
    from cnn_core.runs.store import RunStore

    return RunStore(args.runs_dir).resolve(args.run, allow_path=True)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cnn_core.inspection.evaluation import evaluate_model, load_run
    from cnn_core.progress import to_stderr
    from cnn_core.runs.store import RunStore

    model, dataset, _ = load_run(_run(args), RunStore(args.runs_dir), args.epoch)
    result = evaluate_model(model, dataset, to_stderr)
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
    from cnn_core.inspection.preprocess import predict_many
    from cnn_core.model.modelio import load_model_file, model_shapes
    from cnn_core.runs.store import RunStore, read_json

    if bool(args.run) == bool(args.model):
        raise StudioError("give either --run RUN or --model FILE.keras")
    if args.run:
        path = RunStore(args.runs_dir).resolve(args.run, allow_path=True)
        model, dataset = load_model_file(path / "model.keras"), read_json(path / "config.json")["dataset"]
        names, digits = dataset["class_names"], dataset.get("digits_style", False)
    else:
        model = load_model_file(args.model)
    shape, classes = model_shapes(model)
    if args.model:
        names, digits = [str(i) for i in range(classes)], shape[-1] == 1
    images = _images_of(args)
    entries = predict_many(model, [(image, image) for image in images], names, digits, args.top)
    if len(entries) == 1 and "error" in entries[0]:  # one image: a refusal, as any other command's
        raise StudioError(f"{images[0]}: {entries[0]['error']}")
    good = [e for e in entries if "error" not in e]
    lines = []
    for e in entries:
        if "error" in e:
            lines.append(f"{e['image']}: error: {e['error']}")
        elif len(entries) == 1:
            lines += [f"{t['class']:<16} {t['probability']:.4f}" for t in e["top"]]
        else:
            lines.append(f"{e['image']}: {e['predicted']} ({e['confidence']:.4f})")
    emit(args, entries, lines)
    return 0 if good else 2


def _images_of(args: argparse.Namespace) -> list[str]:
    """The images to predict: `--image` paths as given, or every file under `--folder` (sorted, hidden files skipped)."""
    from pathlib import Path

    from cnn_core.data.ingest import is_ignored

    if bool(args.image) == bool(args.folder):
        raise StudioError("give either --image FILE [FILE ...] or --folder DIR")
    if args.image:
        return list(args.image)
    root = Path(args.folder)
    if not root.is_dir():
        raise StudioError(f"{root} is not a folder")
    files = [
        p for p in sorted(root.rglob("*")) if p.is_file() and not any(is_ignored(part) for part in p.relative_to(root).parts)
    ]
    if not files:
        raise StudioError(f"{root} holds no files")
    return [str(p) for p in files]


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnn_core.data.datasets import load_dataset
    from cnn_core.runs import archive
    from cnn_core.runs.store import RunStore

    store, path = RunStore(args.runs_dir), Path(args.file)
    if not path.is_file():
        raise StudioError(f"{path}: no such file")
    if path.suffix.lower() == ".zip":
        run_dir = archive.import_run_zip(path, store)
    else:
        quiet_tensorflow_import()
        run_dir = archive.import_model(path, load_dataset(data_config(args, args.dataset)), store)
    info = store.info(run_dir)
    emit(
        args,
        {"run_dir": str(run_dir), "status": info.status, "test_accuracy": info.test_accuracy},
        [f"imported as {run_dir} ({info.status})"],
    )
    return 0


def cmd_hardest(args: argparse.Namespace) -> int:
    from cnn_core.inspection.evaluation import load_run
    from cnn_core.inspection.hardest import SPLITS, rank
    from cnn_core.progress import to_stderr
    from cnn_core.runs.store import RunStore

    model, dataset, _ = load_run(_run(args), RunStore(args.runs_dir), args.epoch)
    splits = SPLITS if args.split == "all" else (args.split,)
    ranked = rank(model, dataset, splits, to_stderr)
    rows = ranked.table(ranked.order()[: args.top])
    lines = [f"{'loss':>8}  {'split':<10} {'index':>6}  {'label':<14} {'predicted':<14} belief in label"]
    lines += [
        f"{r['loss']:>8.3f}  {r['split']:<10} {r['index']:>6}  {r['label']:<14} {r['predicted']:<14} {r['belief_in_label']:.3f}"
        + (f"  {r['file']}" if "file" in r else "")
        for r in rows
    ]
    emit(args, rows, lines)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnn_core.runs.store import RunStore
    from cnn_core.takehome import export

    store = RunStore(args.runs_dir)
    run_dir = store.resolve(args.run, allow_path=True)
    if args.format != "script":
        quiet_tensorflow_import()
    out = Path(args.out)
    try:
        _write_export(args, store, run_dir, out)
    except OSError as exc:
        raise StudioError(f"cannot write {out}: {exc.strerror or exc}") from None
    size = export.folder_size(out) if out.is_dir() else out.stat().st_size
    emit(args, {"run": run_dir.name, "format": args.format, "out": str(out), "bytes": size},
         [f"{export.FORMATS[args.format]}: {out} ({size:,} bytes)"])  # fmt: skip
    return 0


def _write_export(args: argparse.Namespace, store, run_dir, out) -> None:
    from cnn_core.takehome import export

    if args.format in ("tflite", "tflite-quant", "savedmodel"):
        from cnn_core.model.modelio import load_model_file

        if not (run_dir / "model.keras").is_file():
            raise StudioError(f"run {run_dir.name} has no final model to export")
        model = load_model_file(run_dir / "model.keras")
        if args.format == "savedmodel":
            export.savedmodel(model, out)
        else:
            out.write_bytes(export.tflite(model, args.format == "tflite-quant"))
    elif args.format == "html":
        from cnn_core.takehome.report import report

        out.write_text(report([run_dir, *(store.resolve(r, allow_path=True) for r in args.compare)]), encoding="utf-8")
    else:
        out.write_text(export.script(run_dir), encoding="utf-8")


def register(commands) -> None:
    p = commands.add_parser("evaluate", help="test metrics and confusion matrix of a saved run (or one of its checkpoints)")
    p.add_argument("run", help="run id or run folder")
    p.add_argument("--epoch", type=int, help="evaluate the checkpoint saved after this epoch (default: the final model)")
    p.set_defaults(func=cmd_evaluate, tensorflow=True)
    p = commands.add_parser(
        "predict", help="classify images with a run's model or a .keras file; --json gives a list, one entry per image"
    )
    p.add_argument("--run", help="run id or run folder")
    p.add_argument("--model", help="a .keras model file instead of a run")
    p.add_argument("--image", nargs="+", metavar="FILE", help="one or more image files")
    p.add_argument("--folder", metavar="DIR", help="every image under this folder")
    p.add_argument("--top", type=int, default=3, help="how many classes to list per image (default 3)")
    p.set_defaults(func=cmd_predict, tensorflow=True)
    p = commands.add_parser("import", help="import a run zip, or a .keras model evaluated on --dataset")
    p.add_argument("file")
    p.add_argument("--dataset", default="mnist-5k", help="the dataset a model must fit (default mnist-5k)")
    data_args(p)
    p.set_defaults(func=cmd_import, tensorflow=False)  # a run zip needs no TensorFlow: a model imports it
    p = commands.add_parser("hardest", help="the images with the highest loss (often mislabelled or confusing), hardest first")
    p.add_argument("run", help="run id or run folder")
    p.add_argument(
        "--split", default="train", choices=["train", "validation", "test", "all"], help="which images to rank (default train)"
    )
    p.add_argument("--top", type=int, default=20, help="how many to list (default 20)")
    p.add_argument("--epoch", type=int, help="rank with the checkpoint saved after this epoch (default: the final model)")
    p.set_defaults(func=cmd_hardest, tensorflow=True)
    p = commands.add_parser("export", help="a run as a script, an HTML report, TFLite or a SavedModel")
    p.add_argument("run", help="run id or run folder")
    p.add_argument("--format", required=True, choices=["script", "html", "tflite", "tflite-quant", "savedmodel"],
                   help="script: plain Keras .py; html: a report that opens offline; tflite(-quant): for phones; savedmodel: a folder")  # fmt: skip
    p.add_argument("--out", required=True, help="the file (or, for savedmodel, the new folder) to write")
    p.add_argument("--compare", nargs="*", default=[], metavar="RUN", help="html only: more runs to compare in the report")
    p.set_defaults(func=cmd_export, tensorflow=False)  # a script needs no TensorFlow: the other formats import it
    for name in ("evaluate", "predict", "import", "export", "hardest"):
        runs_dir_arg(commands.choices[name])
