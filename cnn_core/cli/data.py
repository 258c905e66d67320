"""CLI commands about data and architectures: `datasets`, `dataset-info`, `archs`."""

from __future__ import annotations

import argparse

from cnn_core.cli.common import data_args, data_config, emit
from cnn_core.errors import StudioError


def cmd_datasets(args: argparse.Namespace) -> int:
    from cnn_core.data.datasets import REGISTRY

    rows = [{"id": s.id, "name": s.name, "kind": s.kind, "offline": s.offline, "source": s.source} for s in REGISTRY.values()]
    lines = [f"{r['id']:<14} {r['name']:<28} {r['kind']:<10} {r['source']}" for r in rows]
    lines.append("folder:<path> and zip:<path> load your own images, one subfolder per class.")
    emit(args, rows, lines)
    return 0


def cmd_dataset_info(args: argparse.Namespace) -> int:
    from cnn_core.data.datasets import load_dataset
    from cnn_core.progress import to_stderr

    ds = load_dataset(data_config(args, args.id), to_stderr)
    info = ds.summary()
    lines = [
        f"{ds.spec.name} ({ds.spec.id})",
        f"  loaded from: {info['origin']}",
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


def cmd_place(args: argparse.Namespace) -> int:
    from cnn_core.data.downloads import place_file

    dataset_id, target = place_file(args.file)
    emit(args, {"dataset": dataset_id, "placed": str(target)}, [f"{dataset_id}: placed in {target}; it now loads offline"])
    return 0


def cmd_archs(args: argparse.Namespace) -> int:
    from cnn_core.model.architectures import PRESETS
    from cnn_core.model.summary import plan

    shape_of = None
    if args.dataset:
        from cnn_core.data.datasets import load_dataset

        ds = load_dataset(data_config(args, args.dataset))
        shape_of = (ds.input_shape, ds.num_classes, ds.spec.id)
    rows = []
    for spec in PRESETS.values():
        shape, classes, _ = shape_of or (*spec.facts[0][:2], "its tutorial's input")
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


def register(commands) -> None:
    p = commands.add_parser("datasets", help="list the datasets")
    p.set_defaults(func=cmd_datasets)
    p = commands.add_parser("dataset-info", help="load a dataset and describe it")
    p.add_argument("id", help="registry id, folder:<path> or zip:<path>")
    data_args(p)
    p.set_defaults(func=cmd_dataset_info)
    p = commands.add_parser("archs", help="list the architecture presets with their parameter counts")
    p.add_argument("--dataset", help="count parameters for this dataset's input (default: each tutorial's own)")
    data_args(p)
    p.set_defaults(func=cmd_archs)
    p = commands.add_parser(
        "place", help="check a copy of mnist.npz or cifar-10-python.tar.gz and put it where Keras looks, for offline use"
    )
    p.add_argument("file", help="the file, e.g. from a USB stick")
    p.set_defaults(func=cmd_place)
