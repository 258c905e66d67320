"""A run as a standalone Python script: the app's own training recipe, copied, and the run's settings.

The script carries `cnn_core.recipe` verbatim (its source, read with `inspect`), so it splits,
resizes, builds the layers, augments, schedules the learning rate, compiles and stops early with
the very functions the app trains with: a change to training is a change to the script. What is
the script's own is the run's recorded settings and layers as literals, a `load_data()` for its
dataset (`export_loaders`) and a `main()` that calls `fit`. Every value from the run is written
with `repr` (or made one safe line for comments and the docstring), so no text of a run becomes code.
"""

from __future__ import annotations

import ast
import inspect
from datetime import date
from pathlib import Path

from cnn_core import recipe
from cnn_core.data import versions
from cnn_core.errors import StudioError
from cnn_core.model.summary import run_plan
from cnn_core.runs.schema import check_run_config
from cnn_core.runs.store import read_json
from cnn_core.settings.config import DataConfig, train_config_of
from cnn_core.takehome.script_loaders import FOLDER_LOADER, LOADERS, shapes_loader

SETTINGS = (
    "epochs", "batch_size", "learning_rate", "optimizer", "momentum", "schedule", "warmup_epochs", "lr_decay",
    "lr_step_epochs", "flip", "rotation", "zoom", "translation", "seed", "early_stopping", "patience",
)  # fmt: skip


NOT_KERAS = ("type", "row", "added")  # the plan's bookkeeping, not a layer's settings


def recipe_source() -> str:
    """The recipe module's source without its docstring: the code the app trains with."""
    source = inspect.getsource(recipe)
    first = ast.parse(source).body[0]
    return "\n".join(source.splitlines()[first.end_lineno :]).strip() + "\n"


def trained_precision(config: dict) -> str:
    """The precision the run trained in: its recorded choice (runs from before the setting: float32)."""
    found = config.get("precision")
    chosen = found.get("chosen") if isinstance(found, dict) else None
    return chosen if chosen in ("float32", "bfloat16") else "float32"


def _settings_code(train, precision: str) -> str:
    lines = [f"    {name} = {getattr(train, name)!r}" for name in SETTINGS]
    lines.append(f"    precision = {precision!r}  # float32, or bfloat16: mixed, fast with AMX or a recent GPU")
    return (
        'class Settings:\n    """The run\'s training settings, as CNN Studio recorded them; the recipe reads these."""\n\n'
        + "\n".join(lines)
    )


def _layers_code(model_plan) -> str:
    rows = []
    for info in model_plan.layers:
        comment = f"  # {one_line(info.formula)}" if info.formula else ""
        settings = {k: v for k, v in info.config.items() if k not in NOT_KERAS}
        rows.append(f"    ({info.type!r}, {settings!r}, {info.name!r}),{comment}")
    return (
        "LAYERS = [  # (Keras layer, its settings, its name); each comment is the layer's parameter count\n"
        + "\n".join(rows)
        + "\n]"
    )


def _loader(data: DataConfig) -> str:
    base, _ = versions.split_id(data.dataset_id)  # a version's script loads its base, then applies EDITS
    kind, _, location = base.partition(":")
    if kind in ("folder", "zip") and location:
        return f"DATA_PATH = {location!r}  # change this to where your images are\n\n\n" + FOLDER_LOADER
    if base == "shapes":
        return shapes_loader(data)
    if base in LOADERS:
        return LOADERS[base]
    raise StudioError(f"no loader for dataset {base!r}")


def _edits_code(dataset_id: str) -> str:
    """The version's edits as a literal (keys are ints or paths, classes are names: `repr` quotes them)."""
    edits = versions.edits_of(dataset_id)
    if not edits:
        return "EDITS = []  # label edits of a CNN Studio dataset version (none: the original dataset)"
    rows = "\n".join(f"    {edit!r}," for edit in edits)
    return (
        f"EDITS = [  # label edits of CNN Studio's dataset version {one_line(dataset_id)}, applied within each split\n{rows}\n]"
    )


def _fine_tune_note(config: dict) -> str:
    """Fine-tuned runs: the script says it trains from scratch (it carries no parent's weights)."""
    parent = config.get("parent")
    if not isinstance(parent, dict):
        return ""
    frozen = " with its convolutions frozen" if parent.get("freeze") else ""
    return (
        f"\nCNN Studio fine-tuned this run from run {one_line(parent.get('run_id', '?'))}'s weights{frozen}. This script\n"
        "does not carry those weights: it trains every layer from scratch, so expect a lower accuracy\n"
        "after the same epochs.\n"
    )


def script(run_dir: Path) -> str:
    """The run as a standalone Python script (plain Keras on TensorFlow, JAX or PyTorch)."""
    config = check_run_config(read_json(Path(run_dir) / "config.json"))  # every value below is checked
    model_plan = run_plan(config)
    if model_plan is None:
        raise StudioError("an imported model has no recorded architecture and settings to write as a script")
    data, train = DataConfig.from_dict(config["data"]), train_config_of(config)
    dataset = config["dataset"]
    arch_name = config["architecture"].get("name") or config["architecture"]["preset"]
    base = versions.split_id(data.dataset_id)[0]
    folder = base.partition(":")[0] in ("folder", "zip")  # read at the model's size already
    title, file = one_line(config.get("name") or Path(run_dir).name), one_line(Path(run_dir).name)
    note = _fine_tune_note(config)
    return TEMPLATE.format(
        title=title, arch=one_line(arch_name), dataset=one_line(dataset["name"]), today=date.today().isoformat(),
        file=file, params=f"{model_plan.total_params:,}", accuracy=_accuracy_text(run_dir), fine_tune=note,
        recipe=recipe_source(), settings=_settings_code(train, trained_precision(config)), layers=_layers_code(model_plan),
        split_seed=repr(int(data.seed)), validation=repr(float(data.validation_fraction)),
        test=repr(float(data.test_fraction)),
        limit=repr(None if base == "shapes" or data.limit is None else int(data.limit)), edits=_edits_code(data.dataset_id),
        image_size=repr(None if folder or data.image_size is None else int(data.image_size)),
        input_shape=repr(tuple(int(v) for v in dataset["input_shape"])), loader=_loader(data),
        fine_tuned=repr(bool(note)),
    )  # fmt: skip


def one_line(text: object) -> str:
    """Text from a run (its name, a dataset's name) made safe inside the script's docstring or a
    comment: one line, printable, and no backslash or double quote that could end the string."""
    line = " ".join(str(text).split())
    return "".join(c if c.isprintable() else "?" for c in line).replace("\\", "/").replace('"', "'")


def _accuracy_text(run_dir: Path) -> str:
    metrics = read_json(Path(run_dir) / "metrics.json") if (Path(run_dir) / "metrics.json").is_file() else {}
    accuracy = metrics.get("test_accuracy")
    return f"{accuracy:.2%}" if isinstance(accuracy, (int, float)) else "not recorded"


TEMPLATE = '''"""{title}: {arch} on {dataset}, exported from CNN Studio
on {today} as plain Keras. Run it with `python {file}.py` (add `--epochs 1`
for a quick try, `--limit 500` for fewer images); it needs numpy, pillow and keras, and runs on
TensorFlow (the default), JAX or PyTorch: set KERAS_BACKEND=jax or KERAS_BACKEND=torch.
{fine_tune}
What CNN Studio recorded for this run: {params} parameters, test accuracy {accuracy}.
Your numbers will differ a little: the order of batches is not the same.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before Keras is imported; jax and torch work too

import keras

# CNN Studio's training recipe, copied verbatim from its source: the app trains with these functions.
{recipe}

# This run.


{settings}


SPLIT_SEED = {split_seed}
VALIDATION_FRACTION = {validation}
TEST_FRACTION = {test}
LIMIT = {limit}  # use at most this many images (None: all)
IMAGE_SIZE = {image_size}  # resize to this square side (None: keep)
INPUT_SHAPE = {input_shape}
FINE_TUNED = {fine_tuned}  # True: CNN Studio started from another run's weights; this script starts afresh

{layers}

{edits}


{loader}

def prepare_data():
    """Load, subsample, resize and split as CNN Studio did, then apply the dataset version's EDITS."""
    x, y, names, test, *files = load_data()
    keys = np.array(files[0], dtype=object) if files else np.arange(len(y))  # file paths, else source indexes
    test_keys = np.arange(len(y), len(y) + len(test[1])) if test is not None else None
    keep = subsample_indices(len(y), LIMIT, SPLIT_SEED)
    if keep is not None:
        x, y, keys = x[keep], y[keep], keys[keep]
        if test is not None:
            test = (test[0][: limited_test_size(LIMIT)], test[1][: limited_test_size(LIMIT)])
            test_keys = test_keys[: limited_test_size(LIMIT)]
    if IMAGE_SIZE:
        x = resize_all(x, IMAGE_SIZE)
        test = (resize_all(test[0], IMAGE_SIZE), test[1]) if test is not None else None
    train, val, held = split_indices(y, VALIDATION_FRACTION, TEST_FRACTION, SPLIT_SEED, test is not None)
    if held is not None:
        test, test_keys = (x[held], y[held]), keys[held]
    splits = [(x[train], y[train], keys[train]), (x[val], y[val], keys[val]), (*test, test_keys)]
    return (*(edited(*split, names) for split in splits), names)


def edited(x, y, keys, names):
    """One split with EDITS applied: relabelled, excluded images dropped."""
    kept, y, _ = apply_edits(keys, y, EDITS, names)
    return x[kept], y


def main():
    global LIMIT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=Settings.epochs, help=f"training epochs (default {{Settings.epochs}})")
    parser.add_argument("--limit", type=int, default=LIMIT, help=f"use at most this many images (default {{LIMIT}})")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default=Settings.precision,
                        help=f"mixed bfloat16 or float32 (default {{Settings.precision}}, as CNN Studio trained it)")
    args = parser.parse_args()
    Settings.epochs, LIMIT, Settings.precision = args.epochs, args.limit, args.precision  # --epochs shortens the schedule too
    if FINE_TUNED:
        print("note: CNN Studio fine-tuned this run from another run; this script trains from scratch")
    keras.utils.set_random_seed(Settings.seed)
    (x, y), (xv, yv), (xt, yt), names = prepare_data()
    print(f"{{len(y):,}} training, {{len(yv):,}} validation and {{len(yt):,}} test images of {{x.shape[1:]}}")
    print(f"Keras {{keras.__version__}} on {{keras.backend.backend()}}")
    layers = [(kind, {{**c, "units": len(names)}} if c.get("output") else c, name) for kind, c, name in LAYERS]
    model = build_model(layers, INPUT_SHAPE, augmentation_layers(Settings), precision=Settings.precision)
    print(f"parameters: {{model.count_params():,}}, computing in {{Settings.precision}}")
    steps_per_epoch = -(-len(y) // Settings.batch_size)
    compile_model(model, make_optimizer(Settings, learning_rate(Settings, steps_per_epoch)))
    model.fit(x, y, batch_size=Settings.batch_size, epochs=Settings.epochs, validation_data=(xv, yv) if len(yv) else None,
              callbacks=fit_callbacks(Settings, len(yv) > 0), verbose=2)
    loss, accuracy = model.evaluate(xt, yt, batch_size=Settings.batch_size, verbose=0)
    print(f"test accuracy: {{accuracy:.4f}}  test loss: {{loss:.4f}}")
    model.save("model.keras")


if __name__ == "__main__":
    main()
'''
