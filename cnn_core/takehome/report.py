"""A self-contained HTML report of one run, or of several compared: one file that opens offline.

It holds the curves (Plotly, its script embedded once: no CDN), the settings, the architecture
table with each layer's formula, the confusion matrix, the per-class metrics, the diagnosis and a
gallery of mistakes (PNG thumbnails inside the file). Every text that comes from a run (its name,
settings, class names, findings) is HTML-escaped: a run name is user input.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from cnn_core import charts
from cnn_core.model.summary import run_plan
from cnn_core.runs.schema import check_run_config
from cnn_core.runs.store import RunStore, read_json
from cnn_core.training import curves

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } td.n { text-align: right; }
.finding { border-left: 4px solid #fd8d3c; padding: .3em .8em; margin: .5em 0; background: #fff8f0; }
.finding.error { border-color: #de2d26; background: #fff0f0; } .finding.info { border-color: #9ecae1; background: #f3f8fc; }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; } .gallery figure { margin: 0; font-size: 12px; text-align: center; }
.gallery img { width: 72px; height: 72px; image-rendering: pixelated; border: 1px solid #ccc; }
.muted { color: #777; }
"""


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{v:,}</td>' if isinstance(v, int) and not isinstance(v, bool) else f"<td>{html.escape(str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _text(value) -> str:
    """Any value from a run's files, as HTML text: a run name or a finding is user input."""
    return html.escape(str(value))


def _png(image: np.ndarray) -> str:
    image = np.asarray(image)
    buf = io.BytesIO()
    Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class _Figures:
    """Plotly figures as HTML, the library's script embedded with the first one only."""

    def __init__(self):
        self.first = True

    def __call__(self, figure) -> str:
        out = figure.to_html(full_html=False, include_plotlyjs=self.first, config={"displaylogo": False})
        self.first = False
        return out


def _run_section(run_dir: Path, store: RunStore, figure: _Figures) -> str:
    from cnn_core.inspection.evaluation import evaluate_model, load_run

    config, info = check_run_config(read_json(run_dir / "config.json")), store.info(run_dir)  # a clear refusal, not a crash
    title = html.escape(info.name or info.run_id)
    parts = [f"<h2>{title}</h2>", f'<p class="muted">{html.escape(info.run_id)} · {html.escape(info.status)}</p>']
    arch = config.get("architecture", {})
    settings = [
        [k, v] for k, v in {**config.get("train", {}), **{f"data: {k}": v for k, v in config.get("data", {}).items()}}.items()
    ]
    parts += ["<h3>Settings</h3>", _table(["setting", "value"], settings)]
    layers = run_plan(config)
    if layers is not None:
        rows = [[i.name, i.type, " × ".join(map(str, i.output_shape)), i.params, i.formula] for i in layers.layers]
        parts += [f"<h3>Architecture: {_text(arch.get('name', ''))} ({layers.total_params:,} parameters)</h3>",
                  _table(["layer", "type", "output", "parameters", "formula"], rows)]  # fmt: skip
    history = store.read_history(run_dir)
    if history:
        parts += ["<h3>Loss and accuracy per epoch</h3>", figure(curves.compare_runs({title: history}))]
    findings = store.read_diagnosis(run_dir)
    if findings:
        parts.append("<h3>What the curves say</h3>")
        parts += [
            f'<div class="finding {_text(f["severity"])}"><b>{_text(f["title"])}.</b> {_text(f["evidence"])}. '
            f"{_text(f.get('explanation', ''))} <i>Try:</i> {_text(f.get('suggestion', ''))}</div>"
            for f in findings
        ]
    if info.has_model or info.checkpoints:
        model, data, _ = load_run(run_dir, store)
        result = evaluate_model(model, data)
        parts += [
            f"<h3>Test accuracy {result.accuracy:.2%}, loss {result.loss:.4f} ({len(result.y_true):,} images)</h3>",
            figure(charts.confusion_matrix(result.confusion_matrix(), result.class_names)),
            _table(
                ["class", "precision", "recall", "F1", "support"],
                [
                    [r["class"], f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", r["support"]]
                    for r in result.per_class()
                ],
            ),  # fmt: skip
        ]
        wrong = result.misclassified()[:32]
        if len(wrong):
            names = result.class_names
            images = data.test.images[np.asarray(wrong)]
            cells = "".join(
                f'<figure><img src="{_png(im)}" alt="test image {i}: {html.escape(names[result.y_true[i]])} '
                f'taken for {html.escape(names[result.y_pred[i]])}"><figcaption>{html.escape(names[result.y_true[i]])} → '
                f"{html.escape(names[result.y_pred[i]])}<br>{result.confidence[i]:.0%}</figcaption></figure>"
                for i, im in zip(wrong, images)
            )
            parts += [f"<h3>Mistakes (the first {len(wrong)} of {len(result.misclassified()):,}): true → predicted</h3>",
                      f'<div class="gallery">{cells}</div>']  # fmt: skip
    return "\n".join(parts)


def report(run_dirs: list[Path], store: RunStore | None = None) -> str:
    """The HTML of a report on one run, or comparing several (their curves together first)."""
    store = store or RunStore()
    run_dirs = [Path(p) for p in run_dirs]
    figure = _Figures()
    infos = [store.info(p) for p in run_dirs]
    title = "CNN Studio report: " + ", ".join(i.name or i.run_id for i in infos)
    parts = [f"<h1>{html.escape(title)}</h1>", f'<p class="muted">Written {datetime.now():%Y-%m-%d %H:%M}; opens offline.</p>']
    if len(run_dirs) > 1:
        rows = [
            [i.name or i.run_id, i.architecture, i.dataset, f"{i.test_accuracy:.2%}" if i.test_accuracy is not None else "—"]
            for i in infos
        ]
        histories = {
            _text(i.name or i.run_id): store.read_history(p) for i, p in zip(infos, run_dirs)
        }  # Plotly reads HTML in names
        parts += ["<h2>Comparison</h2>", _table(["run", "architecture", "dataset", "test accuracy"], rows),
                  figure(curves.compare_runs(histories))]  # fmt: skip
    parts += [_run_section(p, store, figure) for p in run_dirs]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
{chr(10).join(parts)}
</body></html>
"""
