"""Deployable model files: TFLite (float and dynamic-range quantized) and a TensorFlow SavedModel,
with each format's size and test accuracy (TFLite through its own interpreter). A model trained in
mixed bfloat16 is exported computing in float32, with its float32 weights."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cnn_core.errors import StudioError
from cnn_core.model.builder import float32_copy


def _quiet(fn, *args, **kwargs):
    """Keras' export prints its signatures to stdout; keep the CLI's --json output clean."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def tflite(model, quantize: bool = False) -> bytes:
    """The model as a TFLite flatbuffer; `quantize`: dynamic-range quantization (int8 weights)."""
    import tensorflow as tf

    model = float32_copy(model)  # a mixed-bfloat16 model deploys in float32, with its float32 weights

    def convert():
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()

    return _quiet(convert)


def tflite_predict(content: bytes, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities from the TFLite interpreter, as a phone would compute them."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=content)
    index_in = interpreter.get_input_details()[0]["index"]
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size], np.float32)
        interpreter.resize_tensor_input(index_in, batch.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(index_in, batch)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy())
    return np.concatenate(outputs)


def savedmodel(model, folder: Path) -> Path:
    """The model as a TensorFlow SavedModel folder (for TF Serving and converters)."""
    folder = Path(folder)
    if folder.exists():
        raise StudioError(f"{folder} already exists; choose a new folder")
    _quiet(float32_copy(model).export, str(folder), format="tf_saved_model")
    return folder


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def deployables(model, dataset) -> list[dict]:
    """Each deployable format's size, test accuracy (TFLite through its interpreter) and, for
    TFLite and SavedModel (zipped), its file's content."""
    from cnn_core.inspection.evaluation import predict_split

    test_images = dataset.test.images[np.arange(len(dataset.test))]
    labels = dataset.test.labels
    rows = []
    keras_accuracy = float((predict_split(model, test_images).argmax(1) == labels).mean())
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "model.keras"
        model.save(model_file)
        rows.append({"format": "keras", "bytes": model_file.stat().st_size, "test_accuracy": keras_accuracy})
        saved = savedmodel(model, Path(tmp) / "savedmodel")
        rows.append(
            {"format": "savedmodel", "bytes": folder_size(saved), "test_accuracy": keras_accuracy, "content": zip_folder(saved)}
        )
    for name, quantize in (("tflite", False), ("tflite-quant", True)):
        content = tflite(model, quantize)
        accuracy = float((tflite_predict(content, test_images).argmax(1) == labels).mean())
        rows.append({"format": name, "bytes": len(content), "test_accuracy": accuracy, "content": content})
    return rows


def zip_folder(folder: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return Path(shutil.make_archive(str(Path(tmp) / "export"), "zip", folder)).read_bytes()
