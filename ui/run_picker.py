"""Choosing a trained run for the model pages, and loading its model once per process."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from cnn_core.errors import StudioError
from cnn_core.runs import RunStore
from ui import state


@dataclass
class LoadedRun:
    """A saved run ready to inspect: its model, the dataset rebuilt from its config, and an inspector."""

    run_id: str
    model: object
    dataset: object
    config: dict
    inspector: object


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(run_path: str, model_mtime: float):
    from cnn_core.evaluation import load_run
    from cnn_core.inspection import Inspector

    model, dataset, config = load_run(run_path)
    return model, dataset, config, Inspector(model)


@st.cache_resource(max_entries=4, show_spinner=False)
def _evaluate(run_path: str, model_mtime: float):
    from cnn_core.evaluation import evaluate_model

    model, dataset, _, _ = _load(run_path, model_mtime)
    return evaluate_model(model, dataset)


def pick_run(label: str = "Model") -> str | None:
    """A selectbox of saved runs that have a model, defaulting to (and setting) the current run."""
    runs = [r for r in RunStore().list_runs() if r.has_model]
    if not runs:
        st.info("No trained model yet: train one on the Train page first.")
        st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
        return None
    ids = [r.run_id for r in runs]
    names = {
        r.run_id: f"{r.run_id} · {r.architecture} on {r.dataset}"
        + (f" · test accuracy {r.test_accuracy:.1%}" if r.test_accuracy is not None else "")
        for r in runs
    }
    current = state.current_run()
    chosen = st.selectbox(
        label,
        ids,
        index=ids.index(current) if current in ids else 0,
        format_func=names.get,
        key=state.key("inspect", "run", label),
    )
    state.set_current_run(chosen)
    return chosen


def _key(run_id: str) -> tuple[str, float]:
    path = RunStore().resolve(run_id)
    return str(path), (path / "model.keras").stat().st_mtime


def load(run_id: str) -> LoadedRun:
    """The run's model, dataset, config and inspector; a `StudioError` when it cannot be loaded."""
    try:
        return LoadedRun(run_id, *_load(*_key(run_id)))
    except OSError as exc:
        raise StudioError(f"run {run_id} cannot be read ({exc})") from None


def evaluation(run_id: str):
    """The run's predictions on its test split (computed once per process)."""
    return _evaluate(*_key(run_id))


def require(label: str = "Model") -> LoadedRun:
    """The chosen run, loaded; otherwise says why and ends the page."""
    from ui import halt

    run_id = pick_run(label)
    if run_id is None:
        halt()
    try:
        with st.spinner("Loading the model…"):
            return load(run_id)
    except StudioError as exc:
        st.error(f"This run cannot be loaded: {exc}")
        halt()
