"""What a trained CNN sees: feature maps, filters, Grad-CAM, input-gradient saliency, activation stats.

An `Inspector` builds its sub-models once per model (one that returns every convolution and
pooling output, one for Grad-CAM per layer), so each new image costs one forward pass.
"""

from __future__ import annotations

import numpy as np

from cnn_core.model.formulas import SPATIAL_LAYERS


def colourise(values: np.ndarray, cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """A 2-D array → `uint8` RGB with a matplotlib colour map, scaled to [vmin, vmax] (default: its range)."""
    from matplotlib import colormaps

    v = np.asarray(values, np.float64)
    lo = v.min() if vmin is None else vmin
    hi = v.max() if vmax is None else vmax
    v = np.clip((v - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(v)
    return (colormaps[cmap](v)[..., :3] * 255).astype(np.uint8)


def kernel_slices(kernel: np.ndarray, limit: int = 16) -> tuple[np.ndarray, int]:
    """A convolution kernel (k, k, in, out) as coloured k×k tiles: one row per input channel, one column
    per filter (at most `limit` of each), red negative and blue positive on one shared scale."""
    k = kernel[:, :, :limit, :limit]
    bound = float(np.abs(k).max()) or 1.0
    tiles = [colourise(k[:, :, i, j], "RdBu", -bound, bound) for i in range(k.shape[2]) for j in range(k.shape[3])]
    return np.stack(tiles), k.shape[3]


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """`uint8` image (h, w, c) blended with a [0, 1] heatmap of the same height and width."""
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    heat = colourise(heatmap, cmap)
    return ((1 - alpha) * rgb + alpha * heat).round().astype(np.uint8)


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """Feature maps (h, w, channels) → `uint8` (channels, h, w, 1), each channel stretched to 0-255."""
    lo = maps.min(axis=(0, 1), keepdims=True)
    span = maps.max(axis=(0, 1), keepdims=True) - lo
    scaled = np.divide(maps - lo, span, out=np.zeros_like(maps, dtype=np.float64), where=span > 0)
    return (scaled * 255).round().astype(np.uint8).transpose(2, 0, 1)[..., None]


def filter_images(kernel: np.ndarray) -> np.ndarray:
    """First-layer kernels (k, k, in, out) → `uint8` (out, k, k, in) pictures; RGB when in == 3."""
    k = kernel.transpose(3, 0, 1, 2)
    lo, hi = k.min(axis=(1, 2, 3), keepdims=True), k.max(axis=(1, 2, 3), keepdims=True)
    scaled = np.divide(k - lo, hi - lo, out=np.full_like(k, 0.5, dtype=np.float64), where=(hi - lo) > 0)
    return (scaled * 255).round().astype(np.uint8)


def filters_over_epochs(run_dir, model) -> list[tuple[int, np.ndarray]]:
    """(epoch, kernel) of the first convolution at each saved epoch of a run, read straight from the
    checkpoint files (`model` is any model of the run's architecture, to find the kernel among them)."""
    from cnn_core.training import checkpoints

    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    if not convs:
        return []
    index = next(i for i, v in enumerate(model.variables) if v is convs[0].kernel)
    found = []
    for info in checkpoints.list_checkpoints(run_dir):
        try:
            with np.load(checkpoints.folder(run_dir) / f"{info.name}.npz") as data:
                found.append((info.epoch, data[f"m{index}"]))
        except (OSError, KeyError, ValueError):
            continue  # a damaged or foreign checkpoint is left out of the strip
    return found


class Inspector:
    """Feature maps, filters and saliency for one Keras image classifier."""

    def __init__(self, model):
        import keras

        self.model = model
        self.layers = [layer for layer in model.layers if type(layer).__name__ in SPATIAL_LAYERS]
        self.conv_layers = [layer for layer in self.layers if type(layer).__name__ == "Conv2D"]
        outputs = [layer.output for layer in self.layers]
        self._extractor = keras.Model(model.inputs, outputs) if outputs else None
        self._cam_models: dict[str, object] = {}

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities for one `uint8` image (h, w, c)."""
        return np.asarray(self.model(image[None], training=False))[0]

    def feature_maps(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Layer name → its output (h, w, channels) for one `uint8` image (h, w, c)."""
        if self._extractor is None:
            return {}
        outputs = self._extractor([image[None]], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return {layer.name: np.asarray(out)[0] for layer, out in zip(self.layers, outputs)}

    def kernel(self, layer_name: str) -> np.ndarray:
        """The kernel (k, k, in, out) of a convolution layer."""
        return np.asarray(self.model.get_layer(layer_name).kernel)

    def activation_stats(self, maps: dict[str, np.ndarray]) -> list[dict]:
        """Per layer: shape, mean, max, and the share of units that are exactly 0 (ReLU units not firing)."""
        return [
            {
                "layer": name,
                "shape": "×".join(map(str, m.shape)),
                "mean": float(m.mean()),
                "max": float(m.max()),
                "inactive": float((m <= 0).mean()),
            }
            for name, m in maps.items()
        ]

    def _cam_model(self, layer_name: str):
        if layer_name not in self._cam_models:
            import keras

            self._cam_models[layer_name] = keras.Model(
                self.model.inputs, [self.model.get_layer(layer_name).output, self.model.outputs[0]]
            )
        return self._cam_models[layer_name]

    def grad_cam(self, image: np.ndarray, class_index: int | None = None, layer_name: str | None = None) -> np.ndarray:
        """Grad-CAM heatmap in [0, 1] at the image's resolution (last convolution by default)."""
        import tensorflow as tf

        if not self.conv_layers:
            return np.zeros(image.shape[:2])
        layer_name = layer_name or self.conv_layers[-1].name
        x = tf.convert_to_tensor(image[None].astype(np.float32))
        with tf.GradientTape() as tape:
            maps, probs = self._cam_model(layer_name)([x], training=False)
            index = int(tf.argmax(probs[0])) if class_index is None else class_index
            score = tf.math.log(probs[:, index] + 1e-12)  # log-probability: no vanishing gradient when confident
        grads = tape.gradient(score, maps)[0]
        weights = tf.reduce_mean(grads, axis=(0, 1))
        cam = tf.nn.relu(tf.reduce_sum(maps[0] * weights, axis=-1)).numpy()
        cam = cam / cam.max() if cam.max() > 0 else cam
        return np.asarray(tf.image.resize(cam[..., None], image.shape[:2], method="bilinear"))[..., 0]

    def saliency(self, image: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """|∂ log p(class) / ∂ pixel|, maximum over channels, scaled to [0, 1]."""
        import tensorflow as tf

        x = tf.Variable(image[None].astype(np.float32))
        with tf.GradientTape() as tape:
            probs = self.model(x, training=False)
            index = int(tf.argmax(probs[0])) if class_index is None else class_index
            score = tf.math.log(probs[:, index] + 1e-12)
        grad = np.abs(tape.gradient(score, x).numpy()[0]).max(axis=-1)
        return grad / grad.max() if grad.max() > 0 else grad
