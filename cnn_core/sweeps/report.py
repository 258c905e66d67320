"""A sweep's report: one HTML file that opens offline, like a run's report (cnn_core/takehome/report.py,
whose table, figure embedding and style it shares), with the best settings, the trials' table,
their validation curves, the parallel coordinates and each setting's importance. Everything quoted
from the sweep (its name, settings, values, messages) is HTML-escaped."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from cnn_core.runs.atomic import atomic_write
from cnn_core.runs.store import RunStore
from cnn_core.sweeps import charts, study
from cnn_core.sweeps.definition import PRUNERS, SEARCHES, Sweep
from cnn_core.takehome.report import STYLE, _Figures, _table


def _value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _accuracy(v) -> str:
    return f"{v:.2%}" if v is not None else "—"


def report(sweep: Sweep, store: RunStore | None = None) -> str:
    """The HTML of the sweep's report."""
    store = store or RunStore(sweep.folder.parent.parent)
    d = sweep.definition
    rows = study.trial_rows(sweep, store)
    top = study.best(rows)
    names = [p.name for p in d.params]
    figure = _Figures()
    status = sweep.status()
    title = f"CNN Studio sweep: {d.name or sweep.sweep_id}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">{html.escape(sweep.sweep_id)} · {html.escape(str(status.get("status", "")))}: '
        f"{html.escape(str(status.get('message', '')))} · written {datetime.now():%Y-%m-%d %H:%M}; opens offline.</p>",
        "<h2>What was tried</h2>",
        _table(
            ["", ""],
            [
                ["dataset", d.data.dataset_id],
                ["architecture", d.arch.spec().name],
                ["search", SEARCHES[d.search]],
                ["pruning", PRUNERS[d.prune]],
                ["trials", f"{len(rows)} of {d.budget}"],
                ["epochs per trial", d.train.epochs],
                *[["swept: " + p.name, p.text().partition("=")[2]] for p in d.params],
            ],
        ),  # fmt: skip
    ]
    if top is not None:
        parts += [
            f"<h2>Best: trial {top.number}, validation accuracy {_accuracy(top.val_accuracy)}</h2>",
            _table(
                ["setting", "value"],
                [[k, _value(v)] for k, v in top.params.items()]
                + [["test accuracy", _accuracy(top.test_accuracy)], ["run", top.run_id]],
            ),  # fmt: skip
        ]
    parts += [
        "<h2>Trials</h2>",
        _table(
            ["trial", *names, "epochs", "validation accuracy", "test accuracy", "state", "run", "note"],
            [
                [
                    r.number,
                    *[_value(r.params.get(n, "")) for n in names],
                    r.epochs,
                    _accuracy(r.val_accuracy),
                    _accuracy(r.test_accuracy),
                    r.state,
                    r.run_id,
                    r.message,
                ]
                for r in rows
            ],
        ),  # fmt: skip
    ]
    if any(r.curve for r in rows):
        parts += ["<h2>Validation accuracy per epoch</h2>", figure(charts.validation_curves(rows, top.number if top else None))]
    coords = charts.parallel_coordinates(rows, names)
    if coords is not None:
        parts += ["<h2>Settings against validation accuracy</h2>", figure(coords)]
    weights = study.importances(sweep)
    if weights:
        parts += ["<h2>Which settings mattered</h2>", figure(charts.importance_bars(weights))]
    parts += ["<h2>Every trial's other settings</h2>",
              _table(["setting", "value"], [[k, _value(v)] for k, v in d.train.to_dict().items() if k not in names])]  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>
{chr(10).join(parts)}
</body></html>
"""


def write_report(sweep: Sweep, store: RunStore, path: str | Path) -> Path:
    """Write the report to `path` (atomically) and return it."""
    path = Path(path)
    atomic_write(path, report(sweep, store))
    return path
