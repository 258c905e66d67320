import os
import stat
import zipfile

import numpy as np
import pytest

from cnn_core.data import ingest
from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.settings.config import DataConfig
from tests.conftest import digit_like, folder_members, make_class_folder, make_zip, png_bytes

THREE = {"zero": 6, "one": 6, "two": 6}


def files_under(path):
    return {p for p in path.rglob("*") if p.is_file()}


def test_zip_members_that_escape_are_skipped_and_nothing_is_written_outside(tmp_path):
    members = folder_members(THREE, prefix="set/")
    members["../../escaped.png"] = b"x"
    members["/abs/escaped.png"] = b"x"
    members["set/zero/../../../escaped2.png"] = b"x"
    zpath = make_zip(tmp_path / "hostile.zip", members)
    before = files_under(tmp_path)
    dest, report = ingest.extract_zip(zpath, tmp_path / "out" / "x")
    written = files_under(tmp_path) - before
    assert all((tmp_path / "out" / "x") in p.parents for p in written)
    assert len(written) == 18
    unsafe = [f for f, reason in report.skipped if "unsafe path" in reason]
    assert len(unsafe) == 3


def test_symlink_members_are_not_extracted(tmp_path):
    zpath = tmp_path / "link.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo("a/evil")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    dest, report = ingest.extract_zip(zpath, tmp_path / "out")
    assert not (dest / "a" / "evil").exists()
    assert "symbolic link" in report.skipped[0][1]


def test_decompression_bomb_member_is_skipped(tmp_path):
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/bomb.png", b"\0" * (60 * 2**20))
    assert os.path.getsize(zpath) < 200_000
    dest, report = ingest.extract_zip(zpath, tmp_path / "out")
    assert not (dest / "a" / "bomb.png").exists()
    assert "decompression bomb" in report.skipped[0][1]


def test_caps_on_members_and_total_size(tmp_path):
    zpath = make_zip(tmp_path / "many.zip", folder_members(THREE))
    with pytest.raises(StudioError, match="members; the limit is 10"):
        ingest.extract_zip(zpath, tmp_path / "a", ingest.IngestLimits(max_members=10))
    with pytest.raises(StudioError, match="would unpack to"):
        ingest.extract_zip(zpath, tmp_path / "b", ingest.IngestLimits(max_total_bytes=1000))


@pytest.mark.parametrize(
    "data", [b"", b"PK\x03\x04 not really", np.random.default_rng(0).bytes(4096)], ids=["empty", "a-zip-header-only", "noise"]
)  # the same ids in every xdist worker
def test_not_a_zip_is_refused(tmp_path, data):
    path = tmp_path / "bad.zip"
    path.write_bytes(data)
    with pytest.raises(StudioError, match="not a readable zip"):
        ingest.extract_zip(path, tmp_path / "out")


def test_empty_zip_gives_a_clear_message(tmp_path):
    zpath = make_zip(tmp_path / "empty.zip", {})
    dest, _ = ingest.extract_zip(zpath, tmp_path / "out")
    with pytest.raises(StudioError, match="no readable images"):
        ingest.ingest_folder(dest)


def test_wrapper_folder_hidden_files_and_unicode_classes(tmp_path):
    members = folder_members({"猫": 4, "狗": 4}, prefix="宠物/")
    members["__MACOSX/宠物/._a.png"] = b"junk"
    members["宠物/.DS_Store"] = b"junk"
    members["宠物/猫/.hidden.png"] = b"junk"
    members["宠物/README.txt"] = b"about these images"
    dest, report = ingest.extract_zip(make_zip(tmp_path / "pets.zip", members), tmp_path / "out")
    images, labels, names, report = ingest.ingest_folder(dest, report=report)
    assert names == ["狗", "猫"] and images.shape == (8, 16, 16, 1)
    assert np.bincount(labels).tolist() == [4, 4]
    assert [reason for _, reason in report.skipped] == ["not inside a class folder"]
    assert report.ignored >= 2


def test_bad_files_are_skipped_and_reported(tmp_path):
    root = make_class_folder(tmp_path / "d", {"a": 3, "b": 3})
    (root / "a" / "notes.png").write_text("text named png")
    (root / "a" / "empty.png").write_bytes(b"")
    good = png_bytes(digit_like(0, 64))
    (root / "b" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "b" / "photo.png").write_bytes(png_bytes(digit_like(1), fmt="JPEG"))  # JPEG named .png is fine
    (root / "b" / "deep" / "deeper").mkdir(parents=True)
    (root / "b" / "deep" / "deeper" / "x.png").write_bytes(png_bytes(digit_like(1)))
    images, labels, names, report = ingest.ingest_folder(root)
    reasons = dict(report.skipped)
    assert set(reasons) == {"a/notes.png", "a/empty.png", "b/cut.png"}
    assert "truncated" in reasons["b/cut.png"]
    assert np.bincount(labels).tolist() == [3, 5]


def test_modes_and_sizes_default_from_the_data_and_can_be_overridden(tmp_path):
    root = make_class_folder(tmp_path / "g", {"a": 3, "b": 3}, size=20)
    assert ingest.ingest_folder(root)[0].shape == (6, 20, 20, 1)
    rgb = make_class_folder(tmp_path / "c", {"a": 3, "b": 3}, size=20, rgb=True)
    assert ingest.ingest_folder(rgb)[0].shape == (6, 20, 20, 3)
    assert ingest.ingest_folder(rgb, channels=1, image_size=(12, 10))[0].shape == (6, 12, 10, 1)


def test_single_class_is_refused(tmp_path):
    root = make_class_folder(tmp_path / "one", {"only": 5})
    with pytest.raises(StudioError, match="at least 2 class"):
        ingest.ingest_folder(root)


def test_too_few_images_per_class_to_split(tmp_path):
    root = make_class_folder(tmp_path / "few", {"a": 5, "b": 2})
    with pytest.raises(StudioError, match="too few to split"):
        load_dataset(DataConfig(f"folder:{root}"))


def test_large_folder_streams_from_disk_with_the_same_pixels(tmp_path):
    root = make_class_folder(tmp_path / "s", {"a": 6, "b": 6})
    in_memory = ingest.ingest_folder(root)[0]
    streamed, labels, _, report = ingest.ingest_folder(root, limits=ingest.IngestLimits(memory_budget_bytes=100))
    assert report.streamed and isinstance(streamed, ingest.ImageFiles)
    assert streamed.shape == in_memory.shape
    np.testing.assert_array_equal(streamed[np.arange(12)], in_memory)
    subset = streamed.take([3, 1], axis=0)
    np.testing.assert_array_equal(subset[0], in_memory[3])


def test_save_upload_keeps_hostile_names_inside_the_workspace(tmp_path):
    path = ingest.save_upload(b"zipbytes", "../../etc/evil.zip", tmp_path / "uploads")
    assert (tmp_path / "uploads") in path.parents and path.name == "evil.zip"
    assert path.read_bytes() == b"zipbytes"


def test_parallel_decoding_keeps_order_labels_and_reports_progress(tmp_path, monkeypatch):
    root = make_class_folder(tmp_path / "p", {"a": 9, "b": 7, "c": 8})
    (root / "b" / "cut.png").write_bytes(png_bytes(digit_like(0, 64))[:100])  # one bad file among them
    seen = []
    images, labels, names, report = ingest.ingest_folder(root, progress=lambda p: seen.append((p.done, p.total, p.text)))
    monkeypatch.setattr(ingest, "DECODE_THREADS", 1)
    serial, serial_labels, _, _ = ingest.ingest_folder(root)
    np.testing.assert_array_equal(images, serial)
    np.testing.assert_array_equal(labels, serial_labels)
    assert np.bincount(labels).tolist() == [9, 7, 8] and [f for f, _ in report.skipped] == ["b/cut.png"]
    assert seen[-1][:2] == (25, 25) and seen[-1][2].startswith("25 of 25 images read in")


def test_a_folder_uploaded_from_the_browser_is_written_once_inside_the_workspace(tmp_path):
    members = folder_members({"cats": 4, "dogs": 4}, prefix="pets/")
    files = [*members.items(), ("pets/../../escape.png", b"x"), ("/etc/passwd", b"x"), ("pets/.DS_Store", b"x")]
    folder = ingest.save_folder_upload(files, tmp_path / "uploads")
    assert (tmp_path / "uploads") in folder.parents and not (tmp_path / "escape.png").exists()
    assert not list(tmp_path.rglob("passwd"))
    images, labels, names, report = ingest.ingest_folder(folder)
    assert names == ["cats", "dogs"] and len(labels) == 8 and report.ignored >= 1
    stamp = (folder / "pets" / "cats" / "0.png").stat().st_mtime_ns
    assert ingest.save_folder_upload(files, tmp_path / "uploads") == folder  # the same folder again: reused
    assert (folder / "pets" / "cats" / "0.png").stat().st_mtime_ns == stamp
    with pytest.raises(StudioError, match="the limit is 3"):
        ingest.save_folder_upload(files, tmp_path / "uploads", ingest.IngestLimits(max_members=3))
