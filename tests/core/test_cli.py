import json
import subprocess
import sys

from tests.conftest import ROOT, make_class_folder


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "cnn_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_datasets_lists_the_registry_as_json():
    out = cli("datasets", "--json")
    assert out.returncode == 0
    ids = [row["id"] for row in json.loads(out.stdout)]
    assert ids[:3] == ["mnist-5k", "digits", "shapes"]


def test_dataset_info_on_a_folder_matches_the_app_ingestion(tmp_path):
    root = make_class_folder(tmp_path / "imgs", {"cat": 6, "dog": 6})
    (root / "cat" / "broken.png").write_text("nope")
    out = cli("dataset-info", f"folder:{root}", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["class_names"] == ["cat", "dog"] and info["input_shape"] == [16, 16, 1]
    assert info["skipped"] == [{"file": "cat/broken.png", "reason": "not an image file Pillow can read"}]
    text = cli("dataset-info", f"folder:{root}")
    assert "cat" in text.stdout and "skipped 1 file" in text.stdout


def test_refusals_are_one_line_without_traceback(tmp_path):
    root = make_class_folder(tmp_path / "one", {"only": 4})
    for args in (["dataset-info", f"folder:{root}"], ["dataset-info", "nope"], ["dataset-info", f"zip:{tmp_path}/x.zip"]):
        out = cli(*args)
        assert out.returncode == 2
        assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
        assert "Traceback" not in out.stderr


def test_unknown_names_are_refused_before_tensorflow_is_imported():
    """A typo costs a fraction of a second, not TensorFlow's 7-second import."""
    probe = (
        "import sys; from cnn_core.cli import main\n"
        "for argv in (['train', '--arch', 'nope'], ['train', '--dataset', 'nope'], ['evaluate', 'no-such-run'], "
        "['hardest', 'no-such-run']):\n"
        "    print(main(argv), 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.split("\n")[:4] == ["2 False"] * 4, out.stdout + out.stderr
    assert "unknown architecture 'nope'" in out.stderr and "no run 'no-such-run'" in out.stderr
