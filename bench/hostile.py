"""`python -m bench hostile`: each hostile input of issue 24, handed to the app in a process set up as
the server is, with a 1,500 MB memory budget.

The inputs are the test corpus's (tests/hostile.py), made by one child process, which also trains the
tiny run the run zips are made from. A second child imports what the server imports before it answers
(Streamlit with CNN Studio's patches, the default dataset, pandas and plotly: `ui.launcher.warm_up`)
and the modules each input goes through; TensorFlow stays out, as in the server until a model page
opens. It then hands over each input in turn, in a workspace of its own (data, runs, Keras home), the
way the page or the command would, and measures it with the tests' own `Watch` (tests/hostile_case.py):
the peak resident memory it added (the kernel's high-water mark, reset before each case), the time to
refuse (or accept), the bytes written, and any file written outside the app's folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from bench.common import save, table

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 1500
FOLDERS = [("data", "CNN_STUDIO_DATA_DIR"), ("runs", "CNN_STUDIO_RUNS_DIR"), ("keras", "KERAS_HOME")]


def _predict(app, path):
    """What the Predict page does with an upload, for a model of 28×28 grayscale digits."""
    data = Path(path).read_bytes()
    app.prepare(data, (28, 28, 1), True)
    app.open_image(data, target=(280, 280))
    return "prepared for the model"


def _zip_dataset(app, path):
    return app.load_dataset(app.DataConfig(f"zip:{path}"))


def _run_zip(app, path):
    return app.archive.import_run_zip(path, app.RunStore())


# name: (what it is, the call that hands it to the app: (app modules, the input's path) → the outcome)
CASES = {
    "link-shapes": (
        "?data=shapes&limit=1000000&size=512",
        lambda app, _: app.load_dataset(app.DataConfig("shapes", limit=1_000_000, image_size=512)),
    ),
    "link-fashion": (
        "?data=fashion-mnist&size=512",
        lambda app, _: app.load_dataset(app.DataConfig("fashion-mnist", image_size=512)),
    ),
    "npz-3M": ("mnist.npz declaring 3,000,000 images", lambda app, path: app.downloads.place_file(path, slot="mnist")),
    "tar-1TB": ("CIFAR tar.gz, a member declaring 1 TB", lambda app, path: app.downloads.place_file(path, slot="cifar10")),
    "zip-zeros": (
        "zip of 20,000 zero members of 64 KB",
        lambda app, path: app.ingest.extract_upload(path, app.paths.data_dir() / "uploads"),
    ),
    "keras-config": (".keras with a 1 GB config.json", lambda app, path: app.modelio.check_model_file(path)),
    "wrong-slot": ("mnist.npz offered for CIFAR-10", lambda app, path: app.downloads.place_file(path, slot="cifar10")),
    "zip-path-escapes": ("dataset zip with ../../evil.png, /abs/evil.png", _zip_dataset),
    "zip-bomb-member": ("dataset zip with a 128 MB zero member", _zip_dataset),
    "run-zip-run-id": ('run zip, "run_id": "../../x"', _run_zip),
    "run-zip-dataset-1": ('run zip, "dataset": 1', _run_zip),
    "run-zip-huge-config": ("run zip, config.json of 2 MB + 1 byte", _run_zip),
    "run-zip-hostile-name": ('run zip named x"""⏎import os…', _run_zip),
    "predict-png-8000": ("Predict: PNG of 8000×8000 (64 MP)", _predict),
    "predict-jpeg-8000": ("Predict: JPEG of 8000×8000", _predict),
    "predict-cmyk": ("Predict: CMYK JPEG", _predict),
    "predict-lab": ("Predict: LAB TIFF", _predict),
}


def build(folder: Path) -> None:
    """Make every case's input under `folder` and list them in inputs.json (in a child: it trains)."""
    from tests import hostile
    from tests.conftest import train_tiny_run
    from tests.core.test_datasets import mnist_npz

    zips, uploads = hostile.dataset_zips(folder / "zips"), hostile.predict_uploads(folder / "uploads")
    runs = hostile.run_zips(folder / "run-zips", train_tiny_run(folder / "trained"))
    inputs = {
        "npz-3M": hostile.huge_mnist_npz(folder / "mnist.npz", 3_000_000),
        "tar-1TB": hostile.huge_member_tar(folder / "cifar-10-python.tar.gz", 2**40),
        "zip-zeros": hostile.zero_members_zip(folder / "zeros.zip", members=20_000),
        "keras-config": hostile.keras_zip(folder / "m.keras", config_spaces=1000 * 2**20),
        "wrong-slot": mnist_npz(folder / "u.npz"),
        "zip-path-escapes": zips["path-escapes"][0],
        "zip-bomb-member": zips["bomb"][0],
        "run-zip-run-id": runs["escaping-run-id"][0],
        "run-zip-dataset-1": runs["dataset-is-a-number"][0],
        "run-zip-huge-config": runs["huge-config"][0],
        "run-zip-hostile-name": runs["hostile-name"][0],
        "predict-png-8000": uploads["8000x8000-png"][0],
        "predict-jpeg-8000": uploads["8000x8000-jpeg"][0],
        "predict-cmyk": uploads["cmyk-jpeg"][0],
        "predict-lab": hostile.lab_tiff(folder / "lab.tiff"),
    }
    (folder / "inputs.json").write_text(json.dumps({name: str(path) for name, path in inputs.items()}))


def _server_modules() -> SimpleNamespace:
    """Import what the server has imported when a visitor arrives, and what the cases call."""
    import streamlit  # noqa: F401

    from ui.launcher import warm_up
    from ui.runtime import configure_streamlit

    configure_streamlit()
    warm_up()
    from cnn_core import paths
    from cnn_core.data import downloads, ingest
    from cnn_core.data.datasets import load_dataset
    from cnn_core.data.images import open_image
    from cnn_core.inspection.preprocess import prepare
    from cnn_core.model import modelio
    from cnn_core.runs import archive
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import DataConfig

    return SimpleNamespace(
        paths=paths, downloads=downloads, ingest=ingest, load_dataset=load_dataset, open_image=open_image, prepare=prepare,
        modelio=modelio, archive=archive, RunStore=RunStore, DataConfig=DataConfig,
    )  # fmt: skip


def _outcome(result) -> str:
    """An accepted input in words: the run it became, or what a dataset's report skipped and why."""
    report = getattr(result, "report", None)
    if report is not None:
        return f"accepted, {len(report.class_names)} classes; skipped " + "; ".join(f"{f}: {why}" for f, why in report.skipped)
    return f"accepted: {result.name if isinstance(result, Path) else result}"


def measure(folder: Path) -> None:
    """Hand each input to the app in this process; print the figures as one JSON line."""
    from cnn_core.errors import StudioError
    from tests.hostile_case import Watch, app_folders

    app, inputs, figures = _server_modules(), json.loads((folder / "inputs.json").read_text()), {}
    for name, (_what, call) in CASES.items():
        workspace = folder / "cases" / name
        for sub, var in FOLDERS:
            (workspace / sub).mkdir(parents=True)
            os.environ[var] = str(workspace / sub)
        with Watch(workspace, app_folders()) as watch:
            try:
                message = _outcome(call(app, inputs.get(name)))
            except StudioError as exc:
                message = str(exc)
            except Exception as exc:  # noqa: BLE001 - recorded: a refusal a user would not understand
                message = f"NOT A CLEAR REFUSAL: {type(exc).__name__}: {exc}"
        figures[name] = {
            "message": message,
            "seconds": watch.seconds,
            "peak_added_mb": watch.peak_bytes / 2**20,
            "rss_before_mb": watch.rss_before / 2**20,
            "written_bytes": watch.written,
            "outside": watch.outside,
            "input_bytes": Path(inputs[name]).stat().st_size if name in inputs else 0,
        }
    print(json.dumps(figures))


def _child(step: str, folder: Path) -> str:
    """Run this module's `build` or `measure` on `folder` in a fresh process; returns what it printed."""
    env = {
        **os.environ,
        "CNN_STUDIO_MEMORY_BUDGET_MB": str(BUDGET_MB),
        "CNN_STUDIO_SYSTEM_DATASETS": str(folder / "system"),
        "CNN_STUDIO_PRECISION_CACHE": str(folder / "precision.json"),  # tests/conftest.py makes none
        **{var: str(folder / "build" / sub) for sub, var in FOLDERS},
    }
    code = f"from pathlib import Path; from bench.hostile import {step}; {step}(Path({str(folder)!r}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        _child("build", Path(tmp))
        figures = json.loads(_child("measure", Path(tmp)).splitlines()[-1])
    rows = []
    for name, (what, _call) in CASES.items():
        f = figures[name]
        outside = f"  OUTSIDE: {f['outside'][:3]}" if f["outside"] else ""
        figures_text = f"{f['peak_added_mb']:6.1f} MB {f['seconds'] * 1000:8.1f} ms {f['written_bytes']:>9,} B"
        rows.append((name, f"{figures_text}  ({what}; {f['message'][:100]}){outside}"))
    table(f"Hostile inputs in a server-like process (budget {BUDGET_MB} MB): peak RSS added, time, bytes written", rows)
    save("hostile", {"budget_mb": BUDGET_MB, "cases": figures})
