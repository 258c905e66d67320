"""Loading `.keras` model files safely, with messages a user can act on.

Keras' own errors mislead ("File not found" for random bytes, `KeyError` for a zip without a
config, a warning about arbitrary code for a Lambda layer), so files are checked first and
Keras is called with `safe_mode=True`.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from cnn_core.data import budget
from cnn_core.errors import StudioError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
UNSAFE_LAYERS = {"Lambda", "TFOpLambda"}
MAX_CONFIG_BYTES = 16 * 2**20  # a big model's config is a few hundred KB


def _layer_classes(config) -> set[str]:
    found = set()
    if isinstance(config, dict):
        if "class_name" in config:
            found.add(str(config["class_name"]))
        for value in config.values():
            found |= _layer_classes(value)
    elif isinstance(config, list):
        for value in config:
            found |= _layer_classes(value)
    return found


def _read_config(zf: zipfile.ZipFile, name: str) -> bytes:
    """config.json, read only once its declared size, and the whole file's, are within the caps."""
    info = zf.getinfo("config.json")
    unpacked = sum(i.file_size for i in zf.infolist())
    limit = budget.memory_budget_bytes()
    if unpacked > limit:
        raise StudioError(f"{name} would unpack to {budget.size_text(unpacked)}; the limit is {budget.size_text(limit)}")
    if info.file_size > MAX_CONFIG_BYTES:
        raise StudioError(
            f"{name}'s config.json declares {budget.size_text(info.file_size)}; the limit is {budget.size_text(MAX_CONFIG_BYTES)}"
        )
    with zf.open(info) as member:
        data = member.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise StudioError(f"{name}'s config.json is larger than {budget.size_text(MAX_CONFIG_BYTES)}")
    return data


def check_model_file(path: str | Path) -> None:
    """Refuse files that are not Keras models, or that would run code, before Keras reads them."""
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"{path.name}: no such file")
    with open(path, "rb") as f:
        head = f.read(len(HDF5_SIGNATURE))  # the signature alone: the file may be gigabytes
    if path.suffix.lower() == ".h5" or head == HDF5_SIGNATURE:
        if head != HDF5_SIGNATURE:
            raise StudioError(f"{path.name} is not an HDF5 model file (its first bytes are not an HDF5 signature)")
        raise StudioError(
            f"{path.name} is a legacy HDF5 (.h5) model: save it as .keras (model.save('model.keras')) and upload that"
        )
    if not zipfile.is_zipfile(path):
        raise StudioError(f"{path.name} is not a Keras model file (.keras files are zip archives; this one is not)")
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(_read_config(zf, path.name))
    except KeyError:
        raise StudioError(f"{path.name} is a zip but not a Keras model (it has no config.json)") from None
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise StudioError(f"{path.name} is damaged ({exc})") from None
    unsafe = _layer_classes(config) & UNSAFE_LAYERS
    if unsafe:
        raise StudioError(
            f"{path.name} contains a {', '.join(sorted(unsafe))} layer, which runs arbitrary Python code; "
            "CNN Studio does not load such models"
        )


def load_model_file(path: str | Path):
    """A `keras.Model` from a `.keras` file, or a `StudioError` saying why not."""
    check_model_file(path)
    import keras

    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds; the user gets one sentence
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise StudioError(f"{Path(path).name} could not be loaded as a Keras model ({text})") from None
    if not isinstance(model, keras.Model):
        raise StudioError(f"{Path(path).name} does not hold a model")
    return model


def model_shapes(model) -> tuple[tuple[int, ...], int]:
    """(input shape without the batch axis, number of classes) of an image classifier."""
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise StudioError("the model must have one image input and one output")
    in_shape = tuple(inputs[0].shape[1:])
    out_shape = tuple(outputs[0].shape[1:])
    if len(in_shape) != 3 or len(out_shape) != 1 or None in in_shape:
        raise StudioError(
            f"the model's input {in_shape} / output {out_shape} is not an image classifier's (h, w, c) → (classes,)"
        )
    return tuple(int(d) for d in in_shape), int(out_shape[0])


def check_fits(model, input_shape: tuple[int, int, int], num_classes: int | None = None) -> None:
    """Refuse a model whose input (or class count) does not match the dataset, naming both."""
    model_in, model_classes = model_shapes(model)
    if tuple(model_in) != tuple(input_shape):
        raise StudioError(f"the model expects images of shape {model_in}, but the dataset's images are {tuple(input_shape)}")
    if num_classes is not None and model_classes != num_classes:
        raise StudioError(f"the model predicts {model_classes} classes, but the dataset has {num_classes}")
