"""Transfer learning: a new run that starts from another run's weights.

The new model has the parent's architecture, built for the new dataset. Every layer whose
weights have the same shapes takes the parent's; the classifier head starts afresh when the
number of classes differs. Freezing keeps the convolutions (and their batch normalisation) as
the parent learned them, so only the dense layers adapt: the classic recipe for a small dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnn_core.errors import StudioError
from cnn_core.runs.store import read_json
from cnn_core.settings.config import ArchChoice
from cnn_core.training import checkpoints

FROZEN_TYPES = ("Conv2D", "BatchNormalization")


@dataclass
class Parent:
    """The run a fine-tuning run starts from, as its config.json records it."""

    run_id: str
    path: Path
    arch: ArchChoice
    input_shape: tuple[int, ...]
    class_names: list[str]
    freeze: bool = False
    copied: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)

    def record(self) -> dict:
        return {"run_id": self.run_id, "freeze": self.freeze, "copied": self.copied, "fresh": self.fresh}


def parent_of(run_dir: Path, input_shape: tuple[int, ...], freeze: bool = False) -> Parent:
    """Check that a run can be fine-tuned on images of `input_shape`; `StudioError` says why not."""
    config = read_json(Path(run_dir) / "config.json")
    arch = config.get("architecture", {})
    if arch.get("preset") in (None, "imported"):
        raise StudioError(f"run {Path(run_dir).name} was imported, not trained here: its architecture is unknown")
    shape = tuple(config.get("dataset", {}).get("input_shape", ()))
    if shape != tuple(input_shape):
        raise StudioError(
            f"run {Path(run_dir).name} was trained on images of shape {shape}, but this dataset's images are "
            f"{tuple(input_shape)}; set the image size and colour on the Data page to match"
        )
    if not (Path(run_dir) / "model.keras").is_file() and not checkpoints.list_checkpoints(run_dir):
        raise StudioError(f"run {Path(run_dir).name} has no saved model or checkpoint to start from")
    return Parent(
        Path(run_dir).name, Path(run_dir), ArchChoice.from_dict(arch), shape, config["dataset"].get("class_names", []), freeze
    )


def freeze(model, frozen: bool) -> None:
    """Keep the convolutional layers (and their batch normalisation) fixed while the rest trains."""
    if frozen:
        for layer in model.layers:
            if type(layer).__name__ in FROZEN_TYPES:
                layer.trainable = False
