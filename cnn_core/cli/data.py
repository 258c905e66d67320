"""CLI commands about data and architectures: `datasets`, `dataset-info`, `edit-dataset`, `archs`."""

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
    if ds.edits:
        from cnn_core.data import versions

        info["counts_before"] = before = versions.counts_with(ds, [])
        edited = ", ".join(f"{n} {split}" for split, n in ds.edited.items())
        lines.append(
            f"  a version of {ds.config.dataset_id.rpartition('@')[0]} with {len(ds.edits)} edit(s); images changed: {edited}"
        )
        lines += [f"    {_edit_text(e)}" for e in ds.edits[:SHOWN_EDITS]]
        lines += [f"    … and {len(ds.edits) - SHOWN_EDITS} more (--json lists them all)"] if len(ds.edits) > SHOWN_EDITS else []
        counts = {split: [_moved(b, a) for b, a in zip(before[split], counts[split])] for split in counts}
    lines.append(f"  {'class':<16}{'train':>10}{'validation':>12}{'test':>10}")
    for k, name in enumerate(ds.class_names):
        lines.append(f"  {name:<16}{counts['train'][k]:>10}{counts['validation'][k]:>12}{counts['test'][k]:>10}")
    if info["skipped"]:
        lines.append(f"  skipped {len(info['skipped'])} file(s):")
        lines += [f"    {s['file']}: {s['reason']}" for s in info["skipped"]]
    emit(args, info, lines)
    return 0


SHOWN_EDITS = 20


def _moved(before: int, after: int) -> str:
    return str(after) if before == after else f"{before}→{after}"


def _edit_text(edit: dict) -> str:
    return f"{edit['key']}: {edit['action']}" + (f" to {edit['to']}" if edit["action"] == "relabel" else "")


def _marks(args: argparse.Namespace, dataset_id: str) -> list[dict]:
    from cnn_core.data import versions

    marks = []
    for text in args.relabel or []:
        key, eq, to = text.rpartition("=")
        if not eq or not key or not to:
            raise StudioError(f"--relabel {text!r}: write FILE_OR_INDEX=CLASS, e.g. cats/001.jpg=dogs or 17=7")
        marks.append({"key": versions.parse_key(dataset_id, key), "action": "relabel", "to": to})
    for action in ("exclude", "keep"):
        marks += [{"key": versions.parse_key(dataset_id, k), "action": action} for k in getattr(args, action) or []]
    return marks


def cmd_edit_dataset(args: argparse.Namespace) -> int:
    from cnn_core.data import versions
    from cnn_core.data.datasets import load_dataset
    from cnn_core.progress import to_stderr

    dataset_id = args.id
    marks = _marks(args, dataset_id)
    if not marks and not args.undo:
        raise StudioError("nothing to edit: give --relabel FILE_OR_INDEX=CLASS, --exclude, --keep or --undo")
    if marks:  # checked against the images and classes as loaded with the data flags
        dataset_id = versions.derive(dataset_id, marks, load_dataset(data_config(args, dataset_id), to_stderr))
    for key in args.undo or []:
        dataset_id = versions.undo(dataset_id, versions.parse_key(dataset_id, key))
    edits = versions.edits_of(dataset_id)
    lines = [f"{dataset_id}: {len(edits)} edit(s)" if edits else f"{dataset_id}: no edits left (the original dataset)"]
    lines += [f"  {_edit_text(e)}" for e in edits[:SHOWN_EDITS]]
    lines += [f"  … and {len(edits) - SHOWN_EDITS} more (--json lists them all)"] if len(edits) > SHOWN_EDITS else []
    emit(args, {"dataset_id": dataset_id, "edits": edits}, lines)
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
    p = commands.add_parser(
        "edit-dataset", help="mark images (relabel, exclude, keep) as a new dataset version; the files are never changed"
    )
    p.add_argument("id", help="dataset id or version (<id>@v-<8 hex>) to start from; give it before the flags, which take lists")
    key, several = "FILE_OR_INDEX", {"action": "extend", "nargs": "+"}  # `--exclude 3 4` and `--exclude 3 --exclude 4`
    p.add_argument("--relabel", **several, metavar=f"{key}=CLASS", help="give these images another class each")
    p.add_argument("--exclude", **several, metavar=key, help="leave these images out")
    p.add_argument("--keep", **several, metavar=key, help="mark these images reviewed (no change)")
    p.add_argument("--undo", **several, metavar=key, help="take back these images' edits")
    data_args(p)
    p.set_defaults(func=cmd_edit_dataset)
    p = commands.add_parser("archs", help="list the architecture presets with their parameter counts")
    p.add_argument("--dataset", help="count parameters for this dataset's input (default: each tutorial's own)")
    data_args(p)
    p.set_defaults(func=cmd_archs)
    p = commands.add_parser(
        "place", help="check a copy of mnist.npz or cifar-10-python.tar.gz and put it where Keras looks, for offline use"
    )
    p.add_argument("file", help="the file, e.g. from a USB stick")
    p.set_defaults(func=cmd_place)
