"""Generated code is data-safe: a hostile run name, note, dataset name, class names or folder path
never becomes code in the exported script, nor markup in the HTML report.

A run renamed (or imported) as `x\"\"\"\\nimport os; os.system("touch PWNED")\\n\"\"\"` used to give a
script that ran that code at import, even for `--help`. The check: the hostile script's syntax tree
has exactly the statements, imports and calls of a benign run's script, and running it with
`--help` writes nothing.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from cnn_core.errors import StudioError
from cnn_core.runs.store import RunStore, read_json, write_json
from cnn_core.takehome import export
from cnn_core.takehome.report import report
from tests.scripts import output_of, run_scripts

pytestmark = pytest.mark.slow

HOSTILE_NAME = 'x"""\nimport os; os.system("touch PWNED")\n"""'
HOSTILE_TEXTS = [
    HOSTILE_NAME,
    "x'''\nimport os; os.system('touch PWNED')\n'''",
    'tail\\"""; __import__("os").system("touch PWNED") #',
    "</script><script>alert('PWNED')</script><img src=x onerror=alert(1)>",
    "\u2028line\u2029separators\x00\x1b[31m",
]


@pytest.fixture
def runs(trained_runs, tmp_path) -> tuple[RunStore, Path]:
    """A copy of the shared trained run (so it can be renamed), in this test's own store."""
    source = next(p for p in trained_runs.iterdir() if p.is_dir())
    store = RunStore(tmp_path / "runs")
    shutil.copytree(source, store.root / source.name)
    return store, store.root / source.name


def made_hostile(run: Path, text: str, folder: str | None = None) -> Path:
    """The run with `text` as its name, note, dataset name, architecture name and class names (and,
    when given, `folder` as its dataset's location): what a rename or an imported zip can set."""
    config = read_json(run / "config.json")
    config.update(name=text, note=text)
    config["dataset"].update(name=text, class_names=[f"{text} {i}" for i in range(len(config["dataset"]["class_names"]))])
    config["architecture"]["name"] = text
    if folder is not None:
        config["data"]["dataset_id"] = f"folder:{folder}"
    write_json(run / "config.json", config)
    return run


def call_names(tree: ast.AST) -> set[str]:
    """Every called name in the tree, dotted (`os.environ.setdefault`, `keras.Input`, `print`)."""
    return {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}


def shape_of(tree: ast.Module) -> dict:
    """What a script does, independent of the data in it: its top-level statements, imports and calls."""
    imports = {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))}
    top = [type(n).__name__ + (f" {n.name}" if hasattr(n, "name") else "") for n in tree.body]
    return {"top": top, "imports": imports, "calls": call_names(tree)}


HOSTILE_IDS = ["triple-double", "triple-single", "backslash", "html", "control"]


@pytest.fixture(scope="module")
def hostile_scripts(trained_runs, tmp_path_factory) -> dict[str, dict]:
    """For each hostile text: a copy of the shared run made hostile (the text in its names and its
    folder path), its exported script in a clean folder, and what `train.py --help` did. The five
    run in one process (tests/scripts.py), each in its own folder: TensorFlow is imported once."""
    source_run = next(p for p in trained_runs.iterdir() if p.is_dir())
    base, made = tmp_path_factory.mktemp("hostile-scripts"), {}
    for name, text in zip(HOSTILE_IDS, HOSTILE_TEXTS, strict=True):
        root = base / name
        run = RunStore(root / "runs").root / source_run.name
        shutil.copytree(source_run, run)
        folder = f'{root}/pets\'"""\nimport os\n"""{text}'  # a folder path is user text too
        source = export.script(made_hostile(run, text, folder))
        script = root / "clean" / "train.py"
        script.parent.mkdir()
        script.write_text(source, encoding="utf-8")
        made[name] = {"run": run, "root": root, "folder": folder, "source": source, "script": script}
    done = run_scripts({name: (m["script"], ["--help"]) for name, m in made.items()})
    return {name: {**m, "help": done[name]} for name, m in made.items()}


@pytest.mark.parametrize("name, text", list(zip(HOSTILE_IDS, HOSTILE_TEXTS, strict=True)), ids=HOSTILE_IDS)
def test_a_hostile_run_gives_the_templates_script_and_runs_nothing(name, text, hostile_scripts):
    made = hostile_scripts[name]
    hostile = ast.parse(made["source"])
    benign_folder = made_hostile(made["run"], "benign", f"{made['root']}/pets")
    benign = ast.parse(export.script(benign_folder))
    assert shape_of(hostile) == shape_of(benign)
    assert not any(c.endswith("system") or c in ("exec", "eval", "__import__") for c in call_names(hostile))
    doc = ast.get_docstring(hostile)
    assert doc.startswith(export._one_line(text) + ": ")  # the name, on the docstring's first line
    data_path = next(n for n in hostile.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "DATA_PATH")
    assert ast.literal_eval(data_path.value) == made["folder"]  # the path itself, as a Python string
    helped = made["help"]  # `train.py --help` in the script's clean folder
    assert helped.get("exit") == 0 and "usage:" in helped["stdout"], output_of(helped)
    assert sorted(p.name for p in made["script"].parent.iterdir()) == ["train.py"]
    assert not list(made["root"].rglob("PWNED")) and not (Path.cwd() / "PWNED").exists()


@pytest.mark.parametrize(
    "section, key, value, words",
    [
        ("train", "epochs", "1\nimport os", "train.epochs must be a whole number"),
        ("train", "momentum", "0.9); __import__('os').system('x'); (", "train.momentum must be a number"),
        ("data", "seed", 1.5, "data.seed must be a whole number"),
        ("dataset", "input_shape", [16, 16, "3)); import os; ((3"], "dataset.input_shape"),
    ],
)
def test_numbers_that_are_not_numbers_are_refused_with_the_field(section, key, value, words, runs):
    store, run = runs
    config = read_json(run / "config.json")
    config[section][key] = value
    write_json(run / "config.json", config)
    with pytest.raises(StudioError, match=words):
        export.script(run)


def test_the_report_shows_hostile_text_as_text(runs):
    store, run = runs
    benign = report([run, run], store)
    made_hostile(run, HOSTILE_TEXTS[3])
    metrics = read_json(run / "metrics.json")
    metrics["diagnosis"] = [
        {"title": "<script>alert(2)</script>", "evidence": "<b>e</b>", "severity": "warning", "suggestion": "&"}
    ]
    write_json(run / "metrics.json", metrics)
    text = report([run, run], store)  # the comparison too: run names go into its table and chart
    assert text.count("<script") == benign.count("<script")  # only Plotly's own
    assert "<img src=x" not in text and "<b>e</b>" not in text and "alert(2)</script>" not in text
    assert "&lt;script&gt;alert(&#x27;PWNED&#x27;)&lt;/script&gt;" in text and "&lt;b&gt;e&lt;/b&gt;" in text
