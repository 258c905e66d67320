"""Preprocessing of drawn and uploaded images into the model's input."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnn_core.errors import StudioError
from cnn_core.inspection.preprocess import centre_of_mass, looks_like_digits, needs_inversion, prepare


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def drawing(background: int, ink: int, box=(40, 150, 120, 260), size=(280, 280)) -> Image.Image:
    img = Image.new("L", size, background)
    ImageDraw.Draw(img).line([box[:2], box[2:]], fill=ink, width=18)
    return img


def test_inversion_is_detected_from_the_background():
    assert needs_inversion(np.asarray(drawing(255, 0)))
    assert not needs_inversion(np.asarray(drawing(0, 255)))


@pytest.mark.parametrize("background, ink", [(255, 0), (0, 255), (230, 40)])
def test_digit_is_light_on_dark_fits_the_box_and_is_centred_by_mass(background, ink):
    x = prepare(png(drawing(background, ink)), (28, 28, 1), digits=True)[..., 0]
    assert x.shape == (28, 28) and x[0].max() == 0 and x.max() > 200
    rows, cols = np.nonzero(x > 0)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21
    cy, cx = centre_of_mass(x.astype(float))
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1


def test_blank_drawing_gives_a_blank_input():
    assert prepare(png(Image.new("L", (100, 100), 255)), (28, 28, 1), digits=True).max() == 0


def test_rgb_resize_keeps_the_aspect_ratio():
    img = Image.new("RGB", (300, 150), "white")
    ImageDraw.Draw(img).rectangle([125, 50, 175, 100], fill="red")  # a 50x50 square in the middle
    x = prepare(png(img), (32, 32, 3), digits=False)
    red = (x[..., 0] > 150) & (x[..., 1] < 100)
    rows, cols = np.nonzero(red)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert abs(height - width) <= 1 and 9 <= width <= 12  # 50/150 of 32 ≈ 10.7, not squashed


def test_grayscale_upload_for_a_colour_model_and_colour_upload_for_grayscale():
    assert prepare(png(drawing(255, 0)), (16, 16, 3), digits=False).shape == (16, 16, 3)
    assert prepare(png(Image.new("RGB", (40, 40), "blue")), (28, 28, 1), digits=True).shape == (28, 28, 1)


@pytest.mark.parametrize("data", [b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7\n", bytes(range(256)) * 10, b""])
def test_hostile_uploads_are_refused_with_a_reason(data):
    with pytest.raises(StudioError):
        prepare(data, (28, 28, 1), digits=True)


def test_huge_jpeg_and_animated_gif():
    big = png(Image.new("RGB", (8000, 8000), "white"), "JPEG")
    assert prepare(big, (28, 28, 1), digits=True).shape == (28, 28, 1)
    frames = [drawing(255, 0), Image.new("L", (280, 280), 0)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    assert prepare(buf.getvalue(), (28, 28, 1), digits=True).max() > 0  # the first frame, not the black one


def test_digit_style_is_recognised_from_training_images():
    mnist_like = np.zeros((10, 28, 28, 1), np.uint8)
    mnist_like[:, 10:18, 12:16] = 255
    assert looks_like_digits(mnist_like) and not looks_like_digits(255 - mnist_like)
    assert not looks_like_digits(np.zeros((4, 8, 8, 3), np.uint8))


@pytest.mark.slow
def test_uploaded_test_digits_score_like_the_raw_test_images(tmp_path):
    """Test digits drawn as a user would upload them (8x larger, dark on white, PNG) keep the accuracy."""
    from cnn_core.inspection.evaluation import load_run, predict_split
    from tests.conftest import train_tiny_run

    run = train_tiny_run(tmp_path / "runs", "mnist-5k", "keras-mnist", epochs=3)
    model, dataset, _ = load_run(run)
    raw = predict_split(model, dataset.test.images).argmax(axis=1)
    uploads = []
    for image in dataset.test.images:
        paper = Image.fromarray(255 - image[..., 0]).resize((224, 224), Image.Resampling.BILINEAR)
        uploads.append(prepare(png(paper), (28, 28, 1), digits=True))
    uploaded = predict_split(model, np.stack(uploads)).argmax(axis=1)
    raw_accuracy = (raw == dataset.test.labels).mean()
    upload_accuracy = (uploaded == dataset.test.labels).mean()
    print(f"raw test images {raw_accuracy:.3f}, as uploads {upload_accuracy:.3f}")
    assert raw_accuracy > 0.9 and abs(raw_accuracy - upload_accuracy) <= 0.03
