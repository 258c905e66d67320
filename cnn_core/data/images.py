"""Reading image files safely into `uint8` arrays of one mode and one size.

Used by dataset ingestion and by the Predict page: any mode Pillow reads (RGBA, palette, CMYK,
16-bit, grayscale) becomes grayscale or RGB, huge images are refused or decoded at reduced scale
before they can take the machine's memory, and every failure is a `StudioError` with a reason.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnn_core import recipe
from cnn_core.data.loads import checkpoint
from cnn_core.errors import StudioError

MAX_PIXELS = 50_000_000  # a decoded image above this is refused: 50 MP RGB is 150 MB
READABLE_FORMATS = {"PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "MPO"}
GRAYSCALE_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
# The modes the readable formats give that `recipe.to_channels` converts (the rest are tried on one pixel first)
CONVERTED_MODES = GRAYSCALE_MODES | {"P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB"}

ImageSource = str | Path | bytes | BinaryIO


def open_image(source: ImageSource, *, target: tuple[int, int] | None = None) -> Image.Image:
    """Open the first frame of an image, upright (EXIF rotation applied) and fully decoded.

    `target` (width, height) lets JPEG decode at a reduced scale, so an 8000x8000 photo costs a
    few MB instead of 200. Raises `StudioError` with a reason a user understands.
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
            if img.format not in READABLE_FORMATS:
                raise StudioError(f"{img.format} images are not supported (use PNG, JPEG, GIF, BMP or WebP)")
            if target and img.format in {"JPEG", "MPO"}:
                img.draft(img.mode, (target[0] * 4, target[1] * 4))
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise StudioError(f"image too large ({width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels)")
            img.seek(0)
            img.load()
            if img.mode not in CONVERTED_MODES:  # a mode Pillow cannot convert is refused here, not later
                recipe.to_channels(img.crop((0, 0, 1, 1)), 3)
            return ImageOps.exif_transpose(img)
    except StudioError:
        raise
    except UnidentifiedImageError:
        raise StudioError("not an image file Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StudioError("image too large (decompression bomb guard)") from None
    except ValueError as exc:
        if "conversion from" in str(exc):
            raise StudioError(f"images in the {img.mode} colour mode are not supported: save it as RGB or grayscale") from None
        raise StudioError(f"truncated or corrupt image ({exc})") from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise StudioError(f"truncated or corrupt image ({exc})") from None


# Pixel conversion is the recipe's (the exported script reads a folder's images with the same code).
to_channels, to_array = recipe.to_channels, recipe.to_array


def load_array(source: ImageSource, size: tuple[int, int], channels: int) -> np.ndarray:
    """Open, convert and resize in one call (see `open_image` and `to_array`)."""
    return to_array(open_image(source, target=(size[1], size[0])), size, channels)


def resize_all(images: np.ndarray, side: int, chunk: int = 256) -> np.ndarray:
    """`uint8` images (n, h, w, c) resized to `side`×`side` into one preallocated array (bilinear):
    the recipe's `resize_all`. Between chunks the shared load running this may be cancelled
    (`loads.checkpoint`)."""
    return recipe.resize_all(images, side, chunk, checkpoint)


class ImageFiles:
    """An array-like of image files decoded on access, for folders larger than memory.

    Supports `len`, `shape`, integer and array indexing (which decode), and `take(indices, axis=0)`
    (which stays lazy), so splits and training pipelines treat it like a `uint8` ndarray.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, paths: list[Path], size: tuple[int, int], channels: int):
        self.paths = list(paths)
        self.size = size
        self.channels = channels

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.paths), self.size[0], self.size[1], self.channels)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return load_array(self.paths[index], self.size, self.channels)
        chosen = np.arange(len(self.paths))[index]
        return np.stack([self[int(i)] for i in chosen]) if len(chosen) else np.zeros((0, *self.shape[1:]), np.uint8)

    def take(self, indices, axis: int = 0) -> ImageFiles:
        if axis != 0:
            raise ValueError("ImageFiles.take works along the first axis only")
        return ImageFiles([self.paths[int(i)] for i in indices], self.size, self.channels)


def montage(images: np.ndarray, columns: int, scale: int = 1, pad: int = 2) -> np.ndarray:
    """Tile `uint8` images (n, h, w, c) into one grid, each enlarged `scale` times (nearest).

    Grayscale comes back as (H, W), colour as (H, W, 3), as image widgets expect.
    """
    n, h, w, c = images.shape
    rows = max(1, -(-n // columns))
    hs, ws = h * scale + pad, w * scale + pad
    grid = np.full((rows * hs + pad, columns * ws + pad, c), 255, np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, columns)
        big = img.repeat(scale, axis=0).repeat(scale, axis=1)
        grid[pad + r * hs : pad + r * hs + h * scale, pad + col * ws : pad + col * ws + w * scale] = big
    return grid[..., 0] if c == 1 else grid


def looks_like_digits(images: np.ndarray) -> bool:
    """True for grayscale training images on a dark background (MNIST's convention)."""
    if images.shape[-1] != 1 or len(images) == 0:
        return False
    sample = np.asarray(images[: min(len(images), 200)])[..., 0]
    border = np.concatenate([sample[:, 0], sample[:, -1], sample[:, :, 0], sample[:, :, -1]], axis=1)
    return float(np.median(border)) < 64
