"""A run's saved models: the final one, the one at any kept checkpoint, and a parent's weights
copied into a fine-tuning run's new model. A checkpoint holds weights only, so its model is built
again from the run's config.json first."""

from __future__ import annotations

from pathlib import Path

from cnn_core.errors import StudioError
from cnn_core.model.modelio import load_model_file
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import ArchChoice, train_config_of
from cnn_core.training import checkpoints
from cnn_core.training.build import build_run_model
from cnn_core.training.transfer import Parent, freeze


def model_at_checkpoint(run_dir: Path, info):
    """The run's model with the weights of one checkpoint (built from the run's config.json)."""
    config = read_json(Path(run_dir) / "config.json")
    arch = config.get("architecture", {})
    if arch.get("preset") in (None, "imported"):
        raise StudioError(f"run {Path(run_dir).name} was imported: it has no checkpoints")
    dataset = config["dataset"]
    model = build_run_model(
        ArchChoice.from_dict(arch),
        tuple(dataset["input_shape"]),
        len(dataset["class_names"]),
        train_config_of(config),
        bool((config.get("parent") or {}).get("freeze")),
    )
    checkpoints.restore(model, Path(run_dir), info, optimizer=False)
    return model


def load_run_model(run: str | Path, store: RunStore | None = None, epoch: int | None = None):
    """(model, config) of a saved run, without its dataset (the app loads that through its shared,
    budgeted loads).

    Args:
        epoch: the model as it was after this epoch (from its checkpoint); None for the final
            model, or the last checkpoint of a run that has no final model (an interrupted one).
    """
    store = store or RunStore()
    path = store.resolve(run)
    config = read_json(path / "config.json")
    saved = {info.epoch: info for info in checkpoints.list_checkpoints(path)}
    if epoch is None and (path / "model.keras").is_file():
        model = load_model_file(path / "model.keras")
    elif epoch is None and saved:
        model = model_at_checkpoint(path, saved[max(saved)])
    elif epoch is None:
        raise StudioError(f"run {path.name} has no saved model or checkpoint (its status: {store.info(path).status})")
    elif epoch in saved:
        model = model_at_checkpoint(path, saved[epoch])
    else:
        kept = ", ".join(map(str, sorted(saved))) or "none"
        raise StudioError(f"run {path.name} has no checkpoint for epoch {epoch} (kept epochs: {kept})")
    return model, config


def parent_weights(parent: Parent) -> dict[str, list]:
    """Layer name → weights of the parent's final model (or its last checkpoint)."""
    if (parent.path / "model.keras").is_file():
        model = load_model_file(parent.path / "model.keras")
    else:
        model = model_at_checkpoint(parent.path, checkpoints.list_checkpoints(parent.path)[-1])
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def start_from_parent(model, parent: Parent) -> None:
    """Copy the parent's weights into `model` layer by layer, and freeze if asked (before compiling)."""
    weights = parent_weights(parent)
    for layer in model.layers:
        if not layer.weights:
            continue
        theirs = weights.get(layer.name)
        if theirs is not None and [w.shape for w in theirs] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(theirs)
            parent.copied.append(layer.name)
        else:
            parent.fresh.append(layer.name)
    freeze(model, parent.freeze)
