"""Choosing a trained run for the model pages, and loading its model once per process."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from cnn_core.errors import StudioError
from ui import run_access, state, widgets
from ui.memo import Memo


@dataclass
class LoadedRun:
    """A saved run ready to inspect: its model, the dataset rebuilt from its config, and an inspector."""

    run_id: str
    model: object
    dataset: object
    config: dict
    inspector: object
    epoch: int | None = None  # None: the final model


@st.cache_resource(max_entries=6, show_spinner=False)
def _load_model(run_path: str, version: float, epoch: int | None):
    from cnn_core.inspection.maps import Inspector
    from cnn_core.training.saved import load_run_model

    model, config = load_run_model(run_path, epoch=epoch)
    return model, config, Inspector(model)


def _load(run_path: str, version: float, epoch: int | None):
    """(model, dataset, config, inspector): the model cached per run and epoch; the dataset from the
    sessions' shared loads, so it counts against the memory budget and is kept once, not per run."""
    from cnn_core.settings.config import DataConfig

    model, config, inspector = _load_model(run_path, version, epoch)
    return model, state.current_dataset(DataConfig.from_dict(config.get("data", {}))), config, inspector


_EVALUATIONS = Memo(6)


def _evaluate(run_path: str, version: float, epoch: int | None, progress):
    from cnn_core.inspection.evaluation import evaluate_model

    def compute():
        model, dataset, _, _ = _load(run_path, version, epoch)
        return evaluate_model(model, dataset, progress)

    return _EVALUATIONS.get((run_path, version, epoch), compute)


def pick_run(label: str = "Model") -> str | None:
    """A selectbox of saved runs with a model or a checkpoint, defaulting to (and setting) the current run."""
    runs = [r for r in run_access.visible_runs() if r.has_model or r.checkpoints]
    widget = state.key("inspect", "run", label)
    linked = run_access.follow_link(runs)  # read once: app.py drops `?run=` from the address after this run
    if linked:
        state.set_current_run(linked.run_id)
        state.drop(widget)  # the selectbox starts again on the linked run
    if not runs:
        st.info("No trained model yet: train one on the Train page first.")
        st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
        return None
    ids = [r.run_id for r in runs]
    owners = run_access.owner_labels(runs)
    names = {
        r.run_id: f"{r.run_id} · {r.architecture} on {r.dataset}"
        + (f" · test accuracy {r.test_accuracy:.1%}" if r.test_accuracy is not None else "")
        + ("" if r.status in ("completed", "stopped") else f" · {r.status} after {r.epochs_done} epochs")
        + (f" · {owners[r.run_id]}" if owners[r.run_id] not in ("", "you") else "")
        for r in runs
    }
    current = state.current_run()
    if state.get(widget) not in ids:  # chosen earlier, then deleted or unpublished
        state.drop(widget)
    if current not in ids:  # the newest finished run; one still training is there to pick, not the default
        current = next((r.run_id for r in runs if r.has_model), ids[0])
    chosen = st.selectbox(
        label,
        ids,
        index=ids.index(current),
        format_func=names.get,
        key=widget,
    )
    state.set_current_run(chosen)
    return chosen


def _key(run_id: str) -> tuple[str, float]:
    """The run's folder and a version that changes whenever its model or checkpoints do; `StudioError`
    when this browser may not load the run's dataset (`run_access.dataset_refusal`)."""
    path = _visible_path(run_id)
    refusal = run_access.dataset_refusal(path)  # its images are loaded with it: the classroom check first
    if refusal:
        raise StudioError(refusal)
    stamps = [p.stat().st_mtime for p in (path / "model.keras", path / "checkpoints") if p.exists()]
    return str(path), max(stamps, default=0.0)


def _visible_path(run_id: str):
    """The folder of a run this browser may see; `StudioError` for any other (never its files)."""
    run = run_access.find(run_id)
    if run is None:
        raise StudioError(run_access.refusal(run_id))
    return run.path


def saved_epochs(run_id: str) -> list[int]:
    from cnn_core.training import checkpoints

    return [c.epoch for c in checkpoints.list_checkpoints(_visible_path(run_id))]


def load(run_id: str, epoch: int | None = None) -> LoadedRun:
    """The run's model (final, or after `epoch`), dataset, config and inspector; `StudioError` when it cannot load."""
    try:
        return LoadedRun(run_id, *_load(*_key(run_id), epoch), epoch)
    except OSError as exc:
        raise StudioError(f"run {run_id} cannot be read ({exc})") from None


def evaluation(run_id: str, epoch: int | None = None):
    """The run's predictions on its test split (computed once per process and epoch, with a progress bar)."""
    with widgets.progress_bar() as progress:
        return _evaluate(*_key(run_id), epoch, progress)


def pick_epoch(run_id: str, label: str = "Epoch") -> int | None:
    """A slider over the run's saved epochs, ending at its final model; None means the final model."""
    epochs = saved_epochs(run_id)
    has_final = (_visible_path(run_id) / "model.keras").is_file()
    options = [*epochs, None] if has_final else epochs
    if len(options) <= 1:
        return options[0] if options else None
    return st.select_slider(
        label, options, value=options[-1], key=state.key("inspect", "epoch", label, run_id),
        format_func=lambda e: "final" if e is None else str(e),
        help="Look back: the model as it was after this epoch, from its checkpoint. 'final' is the saved model.",
    )  # fmt: skip


def require(label: str = "Model", epochs: bool = False) -> LoadedRun:
    """The chosen run (and epoch, with `epochs`), loaded; otherwise says why and ends the page."""
    from ui import halt

    run_id = pick_run(label)
    if run_id is None:
        halt()
    epoch = pick_epoch(run_id) if epochs else None
    try:
        with st.spinner("Loading the model…"):
            return load(run_id, epoch)
    except StudioError as exc:
        st.error(f"This run cannot be loaded: {widgets.plain_text(str(exc))}")
        halt()
