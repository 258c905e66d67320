"""Why the model errs: the cost of the tools that answer it, on a keras-mnist model (28x28x1).

- occlusion map of one image (goal < 300 ms), median of 10 after one warm-up;
- a robustness slider's server work: change the image, predict it (goal < 150 ms), median of 20;
- hardest-examples ranking of 60,000 training images (Fashion-MNIST from Debian when installed,
  otherwise 60,000 random images of the same shape), budget 30 s;
- the embedding map of 10,000 test images: PCA (goal < 2 s) and t-SNE of 2,000 (budget 60 s), and
  its hover thumbnails (one PNG sprite sheet of the 10,000 images).
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import median, save, table


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up: tracing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def run() -> dict:
    from cnn_core.data import downloads
    from cnn_core.data.datasets import Dataset, Split, get_spec, load_dataset
    from cnn_core.inspection.embedding import embed, sprite
    from cnn_core.inspection.hardest import rank
    from cnn_core.inspection.robustness import Change, occlusion_map
    from cnn_core.model.architectures import get_preset
    from cnn_core.model.builder import build_model
    from cnn_core.settings.config import DataConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    model = build_model(get_preset("keras-mnist"), (28, 28, 1), 10)
    if downloads.find("fashion-mnist") is not None:
        data, source = load_dataset(DataConfig("fashion-mnist")), "Fashion-MNIST (Debian)"
        data.train = Split(
            np.concatenate([data.train.images, data.validation.images]),
            np.concatenate([data.train.labels, data.validation.labels]),
        )
    else:
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (70_000, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, 70_000)
        data = Dataset(get_spec("shapes"), DataConfig("random"), [str(k) for k in range(10)],
                       Split(x[:60_000], y[:60_000]), Split(x[:0], y[:0]), Split(x[60_000:], y[60_000:]))  # fmt: skip
        source = "60,000 random 28x28 images"
    image = data.test.images[0]
    occlusion = _timed(lambda: occlusion_map(model, image, 0), 10)
    change = Change(rotate=15, shift_x=0.1, noise=0.1, occlude=0.2)
    slider = _timed(lambda: np.asarray(model(change.apply(image)[None], training=False)), 20)
    start = time.perf_counter()
    ranked = rank(model, data, ("train",))
    ranking = time.perf_counter() - start
    test = data.test
    start = time.perf_counter()
    embed(model, test.images[:10_000], test.labels[:10_000], "pca")
    pca_s = time.perf_counter() - start
    start = time.perf_counter()
    embed(model, test.images[:2_000], test.labels[:2_000], "tsne")
    tsne_s = time.perf_counter() - start
    start = time.perf_counter()
    thumbnails = sprite(test.images[:10_000])[0]
    sprite_s = time.perf_counter() - start
    figures = {
        "occlusion_ms": round(occlusion * 1000, 1),
        "slider_ms": round(slider * 1000, 1),
        "hardest_60k_s": round(ranking, 1),
        "hardest_images": int(len(ranked.labels)),
        "pca_10k_s": round(pca_s, 2),
        "tsne_2k_s": round(tsne_s, 1),
        "thumbnails_10k_s": round(sprite_s, 2),
        "thumbnails_10k_mb": round(len(thumbnails) / 2**20, 2),
        "data": source,
    }
    table(
        f"Why the model errs (keras-mnist, 28x28x1; {source})",
        [
            ("occlusion map of one image (goal < 300 ms)", f"{figures['occlusion_ms']} ms"),
            ("robustness slider: change + predict (goal < 150 ms)", f"{figures['slider_ms']} ms"),
            (f"hardest-examples ranking of {figures['hardest_images']:,} images (budget 30 s)", f"{figures['hardest_60k_s']} s"),
            ("embedding map, PCA of 10,000 test images (goal < 2 s)", f"{figures['pca_10k_s']} s"),
            ("embedding map, t-SNE of 2,000 test images (budget 60 s)", f"{figures['tsne_2k_s']} s"),
            (
                "embedding map, hover thumbnails of 10,000 test images (one PNG sheet)",
                f"{figures['thumbnails_10k_s']} s, {figures['thumbnails_10k_mb']} MB",
            ),
        ],
    )
    save("why", figures)
    return figures
