"""Take an experiment home: a standalone Keras script, TFLite and SavedModel files, and their sizes
and accuracies. (The HTML report is `cnn_core.takehome.report`.)

The script (`export_script`) is the app's own training recipe (`recipe`) copied verbatim, with
the run's settings and a loader for its dataset; the deployable formats are in `deploy`.
"""

from __future__ import annotations

from cnn_core.takehome.deploy import deployables, folder_size, savedmodel, tflite, tflite_predict, zip_folder
from cnn_core.takehome.script import one_line, script

__all__ = ["FORMATS", "deployables", "folder_size", "savedmodel", "script", "tflite", "tflite_predict", "zip_folder"]

FORMATS = {
    "script": "a standalone Python script (plain Keras)",
    "html": "a self-contained HTML report",
    "tflite": "TensorFlow Lite, float32",
    "tflite-quant": "TensorFlow Lite, dynamic-range quantized (int8 weights)",
    "savedmodel": "a TensorFlow SavedModel folder (zipped in the app)",
}

_one_line = one_line  # the name tests and older callers use
