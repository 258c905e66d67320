"""Runs and models in and out of the store: export a run as a zip, import a run zip or a `.keras` model.

Imports are checked like dataset uploads: a run zip is extracted with the same guards (no path
escapes, size caps) and must hold a config.json; a model is loaded with `safe_mode=True` (Lambda
layers refused) and must fit the chosen dataset. Nothing is written into the runs folder until
every check has passed.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

from cnn_core.datasets import Dataset
from cnn_core.errors import StudioError
from cnn_core.ingest import extract_zip, is_ignored
from cnn_core.modelio import check_fits, check_model_file, load_model_file
from cnn_core.runs import RunStore, owner_tag, read_json, write_json

RUN_FILES = ("config.json", "status.json", "history.csv", "metrics.json", "model.keras")


def export_zip(path: Path) -> bytes:
    """The run folder as a zip (visible files only), under a folder named after the run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(path)
            if file.is_file() and not any(is_ignored(part) for part in relative.parts):
                zf.write(file, f"{path.name}/{relative.as_posix()}")
    return buf.getvalue()


def _run_root(folder: Path) -> Path:
    """The folder holding config.json: the extraction folder itself or its single subfolder."""
    if (folder / "config.json").is_file():
        return folder
    subfolders = [p for p in folder.iterdir() if p.is_dir() and not is_ignored(p.name)]
    if len(subfolders) == 1 and (subfolders[0] / "config.json").is_file():
        return subfolders[0]
    raise StudioError("this zip is not a CNN Studio run (no config.json at its top)")


def import_run_zip(zip_path: str | Path, store: RunStore, owner: str = "cli") -> Path:
    """Add an exported run to the store under a fresh id, owned by `owner` (a session id, or "cli").

    Refuses anything that is not a run.
    """
    store.root.mkdir(parents=True, exist_ok=True)
    staging = store.root / f".import-{secrets.token_hex(4)}"
    try:
        folder, report = extract_zip(zip_path, staging)
        root = _run_root(folder)
        config = read_json(root / "config.json")
        if (root / "model.keras").exists():
            check_model_file(root / "model.keras")
        status = read_json(root / "status.json") if (root / "status.json").exists() else {"status": "completed"}
        if status.get("status") in ("running", "queued"):
            status["status"] = "interrupted"
        run_id = f"{config.get('run_id') or root.name}-imported-{secrets.token_hex(2)}"
        target = store.root / run_id
        target.mkdir()
        for name in RUN_FILES:
            if (root / name).is_file():
                shutil.copy2(root / name, target / name)
        write_json(
            target / "config.json", {**config, "run_id": run_id, "imported_from": Path(zip_path).name, "owner": owner_tag(owner)}
        )
        write_json(target / "status.json", {**status, "pid": None})
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def import_model(
    model_path: str | Path, dataset: Dataset, store: RunStore, filename: str | None = None, owner: str = "cli"
) -> Path:
    """Load a `.keras` model safely, check it fits `dataset`, and save it as a new evaluated run.

    Args:
        filename: the name the user knows the file by (an upload's own name), for messages.
        owner: the session importing it (its id), or "cli".
    """
    from cnn_core.evaluation import evaluate_model

    name = filename or Path(model_path).name
    try:
        model = load_model_file(model_path)
    except StudioError as exc:
        raise StudioError(str(exc).replace(Path(model_path).name, name)) from None
    check_fits(model, dataset.input_shape, dataset.num_classes)
    result = evaluate_model(model, dataset)
    config = {
        "data": dataset.config.to_dict(),
        "dataset": dataset.record(),
        "architecture": {"preset": "imported", "name": f"imported: {name}", "layers": [], "params": int(model.count_params())},
        "train": {},
        "name": "",
        "note": "",
        "imported_from": name,
        "owner": owner_tag(owner),
    }
    run_dir = store.new_run(config, "imported")
    store.save_model(run_dir, model)
    store.write_metrics(run_dir, {"test_loss": result.loss, "test_accuracy": result.accuracy, "test_size": len(result.y_true)})
    store.set_status(run_dir, "completed", f"imported from {name} on {datetime.now():%Y-%m-%d %H:%M}")
    return run_dir


def save_upload(data: bytes, suffix: str, folder: Path) -> Path:
    """Write uploaded bytes to a private temporary file in `folder` (the caller deletes it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".upload-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
    path.write_bytes(data)
    return path
