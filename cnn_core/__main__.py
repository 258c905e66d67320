"""Command line: `python -m cnn_core datasets | dataset-info ID | archs | train | evaluate RUN | predict`.

Every command takes `--json`. A user error exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from cnn_core.errors import StudioError


def _data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, help="resize images to this square side")
    parser.add_argument("--channels", type=int, choices=[1, 3], help="1 grayscale, 3 RGB (image folders)")
    parser.add_argument("--limit", type=int, help="use at most this many images")


def data_config(args: argparse.Namespace, dataset_id: str):
    from cnn_core.datasets import DataConfig

    return DataConfig(
        dataset_id, args.validation_fraction, args.test_fraction, args.seed, args.image_size, args.channels, args.limit
    )


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnn_core", description="CNN Studio from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
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
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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
