"""Command line: `python -m cnn_core datasets | dataset-info ID | archs | train | evaluate RUN | predict`.

Every command takes `--json`. A user error exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from cnn_core import settings
from cnn_core.errors import StudioError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (status 2), like every other user error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _dataset_help() -> str:
    from cnn_core.config import DataConfig

    return next(d.setting.help for d in settings.declared(DataConfig) if d.name == "dataset_id")


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("cnn-studio")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _data_args(parser: argparse.ArgumentParser) -> None:
    from cnn_core.config import DataConfig

    settings.add_arguments(parser, DataConfig, skip=("dataset_id",), prefix="data_")


def data_config(args: argparse.Namespace, dataset_id: str):
    from cnn_core.config import DataConfig

    return settings.from_arguments(DataConfig, args, prefix="data_", dataset_id=dataset_id)


def emit(args: argparse.Namespace, payload, lines: list[str]) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False) if args.json else "\n".join(lines))


def cmd_datasets(args: argparse.Namespace) -> int:
    from cnn_core.datasets import REGISTRY

    rows = [{"id": s.id, "name": s.name, "kind": s.kind, "offline": s.offline, "source": s.source} for s in REGISTRY.values()]
    lines = [f"{r['id']:<14} {r['name']:<28} {r['kind']:<10} {r['source']}" for r in rows]
    lines.append("folder:<path> and zip:<path> load your own images, one subfolder per class.")
    emit(args, rows, lines)
    return 0


def cmd_dataset_info(args: argparse.Namespace) -> int:
    from cnn_core.datasets import load_dataset

    ds = load_dataset(data_config(args, args.id))
    info = ds.summary()
    lines = [
        f"{ds.spec.name} ({ds.spec.id})",
        f"  source: {ds.spec.source}",
        f"  input shape: {ds.input_shape}, {ds.num_classes} classes" + (" (streamed from disk)" if info["streamed"] else ""),
    ]
    counts = info["counts"]
    lines.append(f"  {'class':<16}{'train':>8}{'validation':>12}{'test':>8}")
    for k, name in enumerate(ds.class_names):
        lines.append(f"  {name:<16}{counts['train'][k]:>8}{counts['validation'][k]:>12}{counts['test'][k]:>8}")
    if info["skipped"]:
        lines.append(f"  skipped {len(info['skipped'])} file(s):")
        lines += [f"    {s['file']}: {s['reason']}" for s in info["skipped"]]
    emit(args, info, lines)
    return 0


def cmd_archs(args: argparse.Namespace) -> int:
    from cnn_core.architectures import PRESETS
    from cnn_core.summary import plan

    shape_of = None
    if args.dataset:
        from cnn_core.datasets import load_dataset

        ds = load_dataset(data_config(args, args.dataset))
        shape_of = (ds.input_shape, ds.num_classes, ds.spec.id)
    rows = []
    for spec in PRESETS.values():
        shape, classes, where = shape_of or (*spec.facts[0][:2], "its tutorial's input")
        row = {"id": spec.id, "name": spec.name, "source": spec.source, "input_shape": list(shape), "classes": classes}
        try:
            p = plan(spec, shape, classes)
            row |= {"params": p.total_params, "non_trainable": p.non_trainable_params, "macs": p.macs}
        except StudioError as exc:
            row |= {"params": None, "error": str(exc)}
        rows.append(row)
    lines = [
        f"{r['id']:<18} {r['params'] if r['params'] is not None else 'does not fit':>12}  on {tuple(r['input_shape'])} x {r['classes']}"
        + (f"  ({r['error']})" if "error" in r else "")
        for r in rows
    ]
    emit(args, rows, lines)
    return 0


def _train_config(args: argparse.Namespace):
    from cnn_core.config import TrainConfig

    return settings.from_arguments(TrainConfig, args)


def _arch_choice(value: str):
    from pathlib import Path

    from cnn_core.architectures import ArchitectureSpec
    from cnn_core.config import ArchChoice

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


def cmd_train(args: argparse.Namespace) -> int:
    import signal
    import threading
    import time

    from cnn_core.datasets import load_dataset
    from cnn_core.runs import RunStore
    from cnn_core.training import new_record, run_config, run_training

    config, arch = _train_config(args), _arch_choice(args.arch)
    config.check()
    dataset = load_dataset(data_config(args, args.dataset))
    store = RunStore(args.runs_dir)
    run_dir = store.new_run(run_config(dataset, arch, config, "cli"), arch.preset)
    stop, started = threading.Event(), time.perf_counter()
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: finish the batch, save as stopped

    def report(epoch: int, logs: dict) -> None:
        values = "  ".join(f"{k} {v:.4f}" for k, v in logs.items())
        line = f"epoch {epoch + 1}/{config.epochs}  {values}  ({time.perf_counter() - started:.1f} s)"
        print(
            json.dumps({"epoch": epoch + 1, **logs}) if args.json else line,
            file=sys.stderr if args.json else sys.stdout,
            flush=True,
        )

    result = run_training(dataset, arch, config, run_dir, store, new_record(dataset, config), stop, report)
    final = {
        "run_dir": str(result.run_dir),
        "status": result.status,
        "message": result.message,
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "epochs": len(result.history),
    }
    lines = [f"run: {result.run_dir} ({result.status})"]
    if result.message:
        lines.append(result.message)
    if result.test_accuracy is not None:
        lines.append(f"test accuracy: {result.test_accuracy:.4f}  test loss: {result.test_loss:.4f}")
    emit(args, final, lines)
    return 0 if result.status in ("completed", "stopped") else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cnn_core.evaluation import evaluate_model, load_run
    from cnn_core.runs import RunStore

    model, dataset, _ = load_run(args.run, RunStore(args.runs_dir))
    result = evaluate_model(model, dataset)
    info = result.summary()
    lines = [
        f"test accuracy {result.accuracy:.4f}  test loss {result.loss:.4f}  ({len(result.y_true)} images)",
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


def build_parser(prog: str = "python -m cnn_core", extra_commands: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. `extra_commands` (name → help) lists commands another front end handles
    (the `cnn-studio` launcher's `serve`), so `--help` shows them."""
    from cnn_core.config import TrainConfig

    parser = Parser(prog=prog, description="CNN Studio from the command line.")
    parser.add_argument("--version", action="version", version=f"CNN Studio {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    p = sub.add_parser("datasets", help="list the datasets")
    p.set_defaults(func=cmd_datasets)
    p = sub.add_parser("dataset-info", help="load a dataset and describe it")
    p.add_argument("id", help="registry id, folder:<path> or zip:<path>")
    _data_args(p)
    p.set_defaults(func=cmd_dataset_info)
    p = sub.add_parser("archs", help="list the architecture presets with their parameter counts")
    p.add_argument("--dataset", help="count parameters for this dataset's input (default: each tutorial's own)")
    _data_args(p)
    p.set_defaults(func=cmd_archs)
    p = sub.add_parser("train", help="train a model and save the run")
    p.add_argument("--dataset", default="mnist-5k", help=_dataset_help())
    p.add_argument("--arch", default="keras-mnist", help="Architecture: a preset id (see `archs`) or a JSON architecture file.")
    settings.add_arguments(p, TrainConfig)
    _data_args(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="test metrics and confusion matrix of a saved run")
    p.add_argument("run", help="run id or run folder")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", help="classify one image with a run's model or a .keras file")
    p.add_argument("--run")
    p.add_argument("--model")
    p.add_argument("--image", required=True)
    p.add_argument("--top", type=int, default=3)
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("import", help="import a run zip, or a .keras model evaluated on --dataset")
    p.add_argument("file")
    p.add_argument("--dataset", default="mnist-5k", help="the dataset a model must fit (default mnist-5k)")
    _data_args(p)
    p.set_defaults(func=cmd_import)
    for name in ("train", "evaluate", "predict", "import"):
        sub.choices[name].add_argument("--runs-dir", help="runs folder (default: $CNN_STUDIO_RUNS_DIR or ./runs)")
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text in (extra_commands or {}).items():
        sub.add_parser(name, help=text)
    return parser


TENSORFLOW_COMMANDS = {"train", "evaluate", "predict", "import"}


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


def main(argv: list[str] | None = None, prog: str = "python -m cnn_core", extra_commands: dict | None = None) -> int:
    """Run one CLI command; returns the exit status (2 for a user error, with one line on stderr)."""
    args = build_parser(prog, extra_commands).parse_args(argv)
    try:
        if args.command in TENSORFLOW_COMMANDS:
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


if __name__ == "__main__":
    sys.exit(main())
