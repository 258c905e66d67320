"""classroom.check_dataset_id: which `folder:` and `zip:` datasets a browser may read in each mode."""

import pytest

from cnn_core.access import classroom
from cnn_core.errors import StudioError

ADA, BO, TEACHER = "a" * 32, "b" * 32, "c" * 32


@pytest.fixture
def in_class(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_STUDIO_CLASSROOM", "1")
    monkeypatch.setenv("CNN_STUDIO_CLASS_CODE", "class")
    monkeypatch.setenv("CNN_STUDIO_TEACHER_CODE", "teacher")
    root = tmp_path / "class-data"
    (root / "pets").mkdir(parents=True)
    monkeypatch.setenv("CNN_STUDIO_DATA_ROOTS", str(root))
    classroom.join(ADA, classroom.LEARNER, "Ada")
    classroom.join(BO, classroom.LEARNER, "Bo")
    classroom.join(TEACHER, classroom.TEACHER, "T")
    return root


def test_personal_mode_and_registry_ids_are_never_refused(monkeypatch):
    monkeypatch.delenv("CNN_STUDIO_CLASSROOM", raising=False)
    classroom.check_dataset_id("folder:/etc", ADA)
    classroom.check_dataset_id("mnist-5k", ADA)


def test_a_learner_reads_the_data_roots_and_their_own_uploads_only(in_class):
    mine = classroom.upload_dir(ADA) / "0123" / "pets.zip"
    classroom.check_dataset_id(f"zip:{mine}", ADA)
    classroom.check_dataset_id(f"folder:{in_class / 'pets'}", ADA)
    classroom.check_dataset_id(f"folder:{in_class / 'pets'}@v-3fa2", ADA)  # a version of a readable folder
    classroom.check_dataset_id("digits", ADA)
    for refused in (f"zip:{mine}", "folder:/etc", f"folder:{in_class}/../secret", f"folder:{classroom.upload_dir(ADA).parent}"):
        with pytest.raises(StudioError, match="not among your uploads"):
            classroom.check_dataset_id(refused, BO)


def test_a_link_inside_ones_own_uploads_that_leads_elsewhere_is_refused(in_class, tmp_path):
    (tmp_path / "secret").mkdir()
    uploads = classroom.upload_dir(BO)
    uploads.mkdir(parents=True)
    (uploads / "sneaky").symlink_to(tmp_path / "secret", target_is_directory=True)
    with pytest.raises(StudioError):
        classroom.check_dataset_id(f"folder:{uploads / 'sneaky'}", BO)


def test_the_teacher_reads_every_learners_uploads_but_not_the_rest_of_the_server(in_class):
    classroom.check_dataset_id(f"zip:{classroom.upload_dir(ADA) / 'x' / 'pets.zip'}", TEACHER)
    with pytest.raises(StudioError):
        classroom.check_dataset_id("folder:/etc", TEACHER)
