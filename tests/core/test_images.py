import io

import numpy as np
import pytest
from PIL import Image

from cnn_core.data import images
from cnn_core.errors import StudioError
from tests.conftest import png_bytes


def encoded(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["L", "1", "RGB", "RGBA", "LA", "P", "CMYK", "I;16", "I"])
def test_every_mode_becomes_grayscale_or_rgb(mode):
    base = Image.fromarray(np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1)))
    img = base.convert(mode) if mode not in ("I;16", "I") else base
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    if mode in ("I;16", "I"):
        data = encoded(Image.fromarray((np.asarray(base, np.uint16) * 257).astype(np.uint16)))
    else:
        data = encoded(img, fmt)
    for channels in (1, 3):
        arr = images.load_array(data, (8, 8), channels)
        assert arr.shape == (8, 8, channels) and arr.dtype == np.uint8


def test_sixteen_bit_is_scaled_not_clipped():
    values = np.full((4, 4), 32768, np.uint16)
    arr = images.load_array(encoded(Image.fromarray(values)), (4, 4), 1)
    assert 120 <= arr.mean() <= 135  # half of full scale, where a plain convert would give 255


def test_transparent_pixels_become_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    arr = images.load_array(png_bytes(rgba), (4, 4), 3)
    assert (arr == 255).all()


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "not an image"),
        (b"hello, this is text named .png", "not an image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "not an image"),
        (b"%PDF-1.4\n1 0 obj\n", "not an image"),
    ],
)
def test_non_images_are_refused_with_a_reason(data, reason):
    with pytest.raises(StudioError, match=reason):
        images.open_image(data)


def test_truncated_png_is_refused():
    data = png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    with pytest.raises(StudioError, match="truncated or corrupt"):
        images.open_image(data[: len(data) // 2])


def test_too_many_pixels_is_refused_before_decoding():
    big = Image.new("L", (8000, 7000))  # 56 MP, compresses to a few hundred kB
    with pytest.raises(StudioError, match="too large"):
        images.open_image(encoded(big))


def test_huge_jpeg_decodes_at_reduced_scale():
    data = encoded(Image.new("RGB", (4000, 3000), (200, 10, 10)), "JPEG")
    img = images.open_image(data, target=(28, 28))
    assert img.size[0] <= 1000  # DCT scaling: 1/4 or smaller, never the full 12 MP
    assert images.load_array(data, (28, 28), 3).shape == (28, 28, 3)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("L", (8, 8), v) for v in (10, 250)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    arr = images.load_array(buf.getvalue(), (8, 8), 1)
    assert arr.max() < 50


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    rotated = images.open_image(encoded(img, "JPEG", exif=exif.tobytes()))
    assert rotated.size == (20, 40)


def test_montage_tiles_and_enlarges():
    tiles = np.zeros((5, 4, 4, 1), np.uint8)
    grid = images.montage(tiles, columns=3, scale=2, pad=1)
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1)
    rgb = images.montage(np.zeros((2, 4, 4, 3), np.uint8), columns=2)
    assert rgb.ndim == 3 and rgb.shape[-1] == 3
