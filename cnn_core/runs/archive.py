"""Runs and models in and out of the store: export a run as a zip, import a run zip or a `.keras` model.

Imports are checked like dataset uploads: a run zip is extracted with the same guards (no path
escapes, size caps) into a hidden staging folder, and its config.json must satisfy the run schema
(`run_schema`: the same setting declarations the pages, the CLI and links use); a model is loaded
with `safe_mode=True` (Lambda layers refused) and must fit the chosen dataset. The run appears in
the runs folder, under a fresh id, only when every check has passed.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
import zipfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from cnn_core.access import classroom, quotas
from cnn_core.data.archives import IngestLimits
from cnn_core.data.datasets import Dataset
from cnn_core.data.ingest import extract_zip, is_ignored
from cnn_core.errors import StudioError
from cnn_core.model.modelio import check_fits, check_model_file, load_model_file
from cnn_core.runs import history
from cnn_core.runs.history import HISTORY_MAX_BYTES
from cnn_core.runs.info import FINAL
from cnn_core.runs.schema import CONFIG_MAX_BYTES, MAX_TEXT, check_run_config, clean_findings, number_or_none, shown
from cnn_core.runs.store import RunStore, owner_tag, read_json, write_json

JSON_FILES = ("config.json", "status.json", "metrics.json")
CSV_FILES = ("history.csv", "batches.csv")


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


def _check_declared_sizes(zip_path: str | Path) -> None:
    """Refuse a run zip whose JSON files or histories declare more than their cap, before anything is
    extracted (they are read whole, so their sizes are checked first)."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise StudioError(f"{Path(zip_path).name} is not a readable zip file ({exc})") from None
    for info in infos:
        name = Path(info.filename).name
        cap = CONFIG_MAX_BYTES if name in JSON_FILES else HISTORY_MAX_BYTES if name in CSV_FILES else None
        if cap is not None and info.file_size > cap:
            raise StudioError(f"{name} in this zip is {info.file_size:,} bytes; the limit is {cap:,}")


def _read_small_json(path: Path) -> dict:
    """A run's JSON file, refused when it is larger than the cap (whatever its zip entry declared)."""
    if path.stat().st_size > CONFIG_MAX_BYTES:
        raise StudioError(f"{path.name} is {path.stat().st_size:,} bytes; the limit is {CONFIG_MAX_BYTES:,}")
    return read_json(path)


def _imported_status(root: Path) -> dict:
    """The zip's status, reduced to known fields of the right type; a run that was training is
    interrupted here (no process of this machine trains it)."""
    status = _read_small_json(root / "status.json") if (root / "status.json").is_file() else {"status": "completed"}
    state = status.get("status")
    state = "interrupted" if state in ("running", "queued") else state if state in FINAL else "completed"
    kept = {
        k: number_or_none(status.get(k)) for k in ("duration", "started", "updated") if number_or_none(status.get(k)) is not None
    }
    return {"status": state, "message": str(status.get("message") or "")[:MAX_TEXT], **kept, "pid": None}


def _checked_metrics(root: Path) -> dict | None:
    """metrics.json, when there is one, with numbers where numbers belong; findings that break
    `run_schema.finding_problem` (unknown severity, text too long, a setting value out of range) are dropped."""
    if not (root / "metrics.json").is_file():
        return None
    metrics = _read_small_json(root / "metrics.json")
    if not isinstance(metrics, dict):
        raise StudioError(f"metrics.json must be a JSON object (got {shown(metrics)})")
    for key in ("test_accuracy", "test_loss", "test_size"):
        if key in metrics and number_or_none(metrics[key]) is None:
            raise StudioError(f"metrics.json: {key} must be a number (got {shown(metrics[key])})")
    if "diagnosis" in metrics:
        metrics["diagnosis"] = clean_findings(metrics["diagnosis"])
    return metrics


def _check_dataset_access(config: dict, owner: str) -> None:
    """In classroom mode, a learner may not import a run whose dataset is a server folder or an
    upload they could not open themselves (loading the run would show its images)."""
    if owner != "cli":
        classroom.check_dataset_id(str(config["data"]["dataset_id"]), owner)


def import_run_zip(zip_path: str | Path, store: RunStore, owner: str = "cli", filename: str | None = None) -> Path:
    """Add an exported run to the store under a fresh id, owned by `owner` (a session id, or "cli").

    Refuses anything that is not a run: its config.json must satisfy `run_schema` (settings in
    range, known architecture, a dataset record), whatever run id it names is never used, and a
    refused zip leaves nothing behind. The run is assembled in a hidden staging folder and renamed
    into place only when every check has passed. `filename` is the name the user gave the zip
    (an upload is saved under a temporary one), recorded as "imported_from".
    """
    _check_declared_sizes(zip_path)
    room = quotas.check_import(owner, store, Path(zip_path).stat().st_size)
    unzip_limits = (
        IngestLimits() if room is None else replace(IngestLimits(), max_total_bytes=min(IngestLimits().max_total_bytes, room))
    )
    store.root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=store.root))  # hidden: the Runs list skips dot-folders
    try:
        folder, _ = extract_zip(zip_path, staging / "zip", unzip_limits)
        root = _run_root(folder)
        config = _read_small_json(root / "config.json")
        config.pop("run_id", None)  # never used: the run gets a fresh id below
        check_run_config(config)
        _check_dataset_access(config, owner)
        if (root / "model.keras").exists():
            check_model_file(root / "model.keras")
        metrics = _checked_metrics(root)
        history.rows(root / "history.csv")  # a history every listing can read: numbers, whole epochs
        status = _imported_status(root)
        run_id = f"{datetime.now():%Y%m%d-%H%M%S}-imported-{secrets.token_hex(3)}"  # never the zip's own id
        built = staging / "run"
        built.mkdir()
        for name in ("history.csv", "model.keras"):
            if (root / name).is_file():
                shutil.copy2(root / name, built / name)
        if metrics is not None:
            write_json(built / "metrics.json", metrics)
        record = {
            **config,
            "run_id": run_id,
            "imported_from": Path(filename or zip_path).name,
            "owner": owner_tag(owner),
            "published": False,
        }
        write_json(built / "config.json", record)
        write_json(built / "status.json", status)
        os.rename(built, store.root / run_id)
        return store.root / run_id
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
    from cnn_core.inspection.evaluation import evaluate_model

    name = filename or Path(model_path).name
    quotas.check_import(owner, store, Path(model_path).stat().st_size)
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
