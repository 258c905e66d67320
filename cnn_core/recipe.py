"""The training recipe in plain Keras: what a Keras user would write to train a run by hand.

Image conversion and resizing, the data split (stratified, seeded), layers from a spec,
augmentation, the learning-rate formula and schedule, the optimizer, the loss, compiling and
early stopping. The app trains with these functions, and the exported script carries this
module's source verbatim, so the script trains exactly as the app does. Therefore it imports only
the standard library, numpy, Pillow and Keras (lazily, inside functions, and only `keras.ops`: it
runs on TensorFlow, JAX or PyTorch). Settings: any object with the attributes a function reads.
"""

import math

import numpy as np

LOSS = "sparse_categorical_crossentropy"
METRICS = ["accuracy"]
BN_MOMENTUM = 0.9
ONE_CYCLE_RISE = 0.25  # share of the run spent rising, as fastai's fit_one_cycle
ONE_CYCLE_START, ONE_CYCLE_END = 1 / 25, 1e-4  # start and end as fractions of the peak rate
COSINE_FLOOR = 0.01  # cosine decay ends at 1 % of the base rate


# Data.


def stratified_split(labels, fractions, seed):
    """Shuffled index arrays, one per fraction plus the rest first, each class divided alike.

    Raises ValueError when a class has too few images to give each part at least one.
    """
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(len(fractions) + 1)]
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        sizes = [max(1, round(f * len(idx))) if f > 0 else 0 for f in fractions]
        if len(idx) - sum(sizes) < 1:
            raise ValueError(
                f"class {k} has only {len(idx)} image(s): too few to split into training"
                f"{', validation' if fractions[0] else ''}{' and test' if fractions[-1] else ''} sets; "
                f"add images or lower the fractions"
            )
        bounds = np.cumsum([len(idx) - sum(sizes), *sizes])
        for part, chunk in zip(parts, np.split(idx, bounds[:-1])):
            part.append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def split_indices(labels, validation_fraction, test_fraction, seed, has_test_set):
    """(train, validation, test) index arrays; test is None when the dataset has its own test set."""
    if has_test_set:
        return (*stratified_split(labels, [validation_fraction], seed), None)
    return tuple(stratified_split(labels, [validation_fraction, test_fraction], seed))


def subsample_indices(count, limit, seed):
    """The sorted indices of the `limit` images kept (the same ones whatever the image size), or None for all."""
    if not limit or limit >= count:
        return None
    return np.sort(np.random.default_rng(seed).permutation(count)[:limit])


def limited_test_size(limit):
    """How many images of a dataset's own test set are kept when its training images are limited."""
    return max(1, limit // 5)


def apply_edits(keys, labels, edits, class_names):
    """A dataset version's edits applied to one split: (kept indices, their labels, images changed).

    `keys` names each image (file path or source index); each edit is {"key", "action": "relabel"
    (with "to", a class name) | "exclude" | "keep"}. Edits of images not in this split are skipped.
    """
    where = {key: i for i, key in enumerate(keys.tolist())} if keys is not None else {}
    labels, dropped, changed = np.array(labels, np.int64), np.zeros(len(labels), bool), 0
    for edit in edits:
        i = where.get(edit["key"])
        if i is None or edit["action"] == "keep":
            continue
        if edit["action"] == "exclude":
            dropped[i], changed = True, changed + 1
            continue
        if edit["to"] not in class_names:
            raise ValueError(f"cannot relabel {edit['key']!r} to {edit['to']!r}: the classes are {', '.join(class_names)}")
        to = class_names.index(edit["to"])
        changed += int(labels[i] != to)
        labels[i] = to
    kept = np.flatnonzero(~dropped)
    return kept, labels[kept], changed


def resize_all(images, side, chunk=256, between_chunks=None):
    """`uint8` images (n, h, w, c) resized to `side`x`side` (bilinear, Pillow); `between_chunks()` is
    called every `chunk` images (the app checks for cancellation there)."""
    from PIL import Image

    n, h, w, c = images.shape
    if (h, w) == (side, side):
        return images
    out = np.empty((n, side, side, c), np.uint8)
    mode = "L" if c == 1 else "RGB"
    for start in range(0, n, chunk):
        if between_chunks:
            between_chunks()
        for i in range(start, min(n, start + chunk)):
            im = Image.fromarray(images[i, ..., 0] if c == 1 else images[i], mode)
            out[i] = np.asarray(im.resize((side, side), Image.Resampling.BILINEAR)).reshape(side, side, c)
    return out


def to_channels(img, channels):
    """Convert any Pillow mode to 'L' (channels=1) or 'RGB' (channels=3). Transparent pixels are
    composited onto white; 16-bit and 32-bit images are scaled to 8 bits, not clipped (as Pillow's own)."""
    from PIL import Image

    if img.mode == "LAB":  # CIELAB (a TIFF can hold it): Pillow converts it only through colour profiles
        from PIL import ImageCms  # Pillow's littlecms binding: imported for these images only

        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        img = ImageCms.applyTransform(img, ImageCms.buildTransform(lab, srgb, "LAB", "RGB"))
    if img.mode in {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}:
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in {"RGBA", "LA", "PA"}:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("L" if channels == 1 else "RGB")


def to_array(img, size, channels):
    """`img` as a `uint8` array of shape (height, width, channels), stretched to `size` (h, w)."""
    from PIL import Image

    img = to_channels(img, channels)
    height, width = size
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    array = np.asarray(img, dtype=np.uint8)
    return array.reshape(height, width, channels)


# The model.


def keras_layer(kind, config, name, dtype=None):
    """One Keras layer from its spec: `kind` is the class name, `config` its settings, `dtype` its
    dtype policy (None: Keras' global one, float32)."""
    import keras

    c, L, d = config, keras.layers, dtype
    if kind == "Rescaling":
        return L.Rescaling(c["scale"], name=name, dtype=d)
    if kind == "Conv2D":
        return L.Conv2D(
            c["filters"], c["kernel_size"], strides=c["strides"], padding=c["padding"], activation=c["activation"], name=name,
            dtype=d,
        )  # fmt: skip
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return getattr(L, kind)(c["pool_size"], strides=c["strides"], padding=c["padding"], name=name, dtype=d)
    if kind == "Dense":
        return L.Dense(c["units"], activation=c["activation"], name=name, dtype=d)
    if kind == "Dropout":
        return L.Dropout(c["rate"], name=name, dtype=d)
    if kind == "Activation":
        return L.Activation(c["activation"], name=name, dtype=d)
    if kind == "BatchNormalization":
        # momentum 0.9 (Keras' default is 0.99): the averages used at test time catch up within tens of
        # batches, so a small dataset or a short run is not judged with stale statistics
        return L.BatchNormalization(momentum=BN_MOMENTUM, name=name, dtype=d)
    return getattr(L, kind)(name=name, dtype=d)  # Flatten, GlobalAveragePooling2D


def augmentation_layers(settings):
    """Keras preprocessing layers, active only while training (Keras skips them in inference)."""
    import keras

    L, seed = keras.layers, settings.seed
    layers = [L.RandomFlip("horizontal", seed=seed)] if settings.flip else []
    if settings.rotation:
        layers.append(L.RandomRotation(settings.rotation / 360, seed=seed))  # Keras counts in turns
    if settings.zoom:
        layers.append(L.RandomZoom(settings.zoom, seed=seed))
    if settings.translation:
        layers.append(L.RandomTranslation(settings.translation, settings.translation, seed=seed))
    return layers


def build_model(layer_specs, input_shape, augmentation=(), name=None, precision="float32"):
    """A `keras.Model`: uint8 images in, augmentation (training only), then one layer per
    (kind, config, name) spec, the last giving the class probabilities.

    `precision` "bfloat16" is mixed precision: each layer keeps float32 weights and computes in
    bfloat16 (fast on CPUs with AMX and on recent GPUs), except the classifier, the last layer,
    which computes in float32 so the probabilities and the loss stay accurate. Each layer carries
    its own policy: Keras' global policy stays as it is.
    """
    import keras

    mixed = "mixed_bfloat16" if precision == "bfloat16" else None
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for layer in augmentation:
        x = layer(x)
    for i, (kind, config, layer_name) in enumerate(layer_specs):
        x = keras_layer(kind, config, layer_name, "float32" if i == len(layer_specs) - 1 else mixed)(x)
    return keras.Model(inputs, x, name=name)


# Learning rate, optimizer, loss.


def formula(ops, config, step, steps_per_epoch: int):
    """The learning rate at `step` (a number or a tensor), written with `ops` (numpy or keras.ops)."""
    base, per_epoch = float(config.learning_rate), float(max(steps_per_epoch, 1))
    total = float(max(config.epochs * per_epoch, 1.0))
    t = step * 1.0
    if config.schedule == "one-cycle":
        rise = ONE_CYCLE_RISE * total
        up = ops.minimum(t / rise, 1.0)
        down = ops.minimum(ops.maximum((t - rise) / (total - rise), 0.0), 1.0)
        rising = base * (ONE_CYCLE_START + (1 - ONE_CYCLE_START) * (1 - ops.cos(math.pi * up)) / 2)
        falling = base * (ONE_CYCLE_END + (1 - ONE_CYCLE_END) * (1 + ops.cos(math.pi * down)) / 2)
        return ops.where(t < rise, rising, falling)
    warmup = float(config.warmup_epochs) * per_epoch
    warm = ops.minimum((t + 1.0) / warmup, 1.0) if warmup > 0 else 1.0
    if config.schedule == "step":
        value = base * ops.power(float(config.lr_decay), ops.floor(t / (config.lr_step_epochs * per_epoch)))
    elif config.schedule == "exponential":
        value = base * ops.power(float(config.lr_decay), t / per_epoch)
    elif config.schedule == "cosine":
        progress = ops.minimum(ops.maximum((t - warmup) / max(total - warmup, 1.0), 0.0), 1.0)
        value = base * (COSINE_FLOOR + (1 - COSINE_FLOOR) * (1 + ops.cos(math.pi * progress)) / 2)
    else:
        value = base + 0.0 * t
    return value * warm


_schedule_class = []  # made on first use, so that importing this module does not import Keras


def schedule_class():
    """The Keras learning-rate schedule that follows `formula` on the optimizer's step counter."""
    if not _schedule_class:
        import keras

        class Schedule(keras.optimizers.schedules.LearningRateSchedule):
            def __init__(self, config, steps_per_epoch):
                self.config, self.steps_per_epoch = config, steps_per_epoch

            def __call__(self, step):
                return formula(keras.ops, self.config, keras.ops.cast(step, "float32"), self.steps_per_epoch)

            def get_config(self):
                return {"steps_per_epoch": self.steps_per_epoch}

        _schedule_class.append(Schedule)
    return _schedule_class[0]


def learning_rate(settings, steps_per_epoch, schedule=None):
    """A plain float when the rate is constant, else a schedule object (`schedule` class, by default
    `schedule_class()`) for the optimizer."""
    if settings.schedule == "constant" and not settings.warmup_epochs:
        return settings.learning_rate
    return (schedule or schedule_class())(settings, steps_per_epoch)


def make_optimizer(settings, rate):
    """The configured Keras optimizer, at `rate` (a float or a schedule, see `learning_rate`)."""
    import keras

    if settings.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=settings.momentum)
    return {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[settings.optimizer](rate)


def compile_model(model, optimizer):
    """Compile for integer labels and softmax outputs, reporting accuracy."""
    model.compile(optimizer=optimizer, loss=LOSS, metrics=list(METRICS))
    return model


def early_stopping_args(patience):
    """Early stopping's arguments: stop after `patience` epochs without a better validation loss,
    and keep the best epoch's weights."""
    return {"monitor": "val_loss", "patience": patience, "restore_best_weights": True}


def fit_callbacks(settings, has_validation):
    """The callbacks of a plain `fit`: early stopping when asked for (it needs a validation set)."""
    import keras

    if settings.early_stopping and has_validation:
        return [keras.callbacks.EarlyStopping(**early_stopping_args(settings.patience))]
    return []
