"""The check every hostile case runs under (tests/hostile_case.py) fails what it should: memory grown by
the hostile size, a file written outside the app's folders, a temporary file left behind, a message of
two lines, no message; and a clean refusal passes, with the environment restored after each."""

import os
import tempfile

import pytest

from tests.hostile_case import BUDGET_ENV, MARGIN_MB, Watch, hostile_case


@pytest.fixture
def base(tmp_path_factory):
    return tmp_path_factory.getbasetemp()


def test_a_clean_refusal_passes_and_the_environment_is_restored(base):
    temp, budget = tempfile.gettempdir(), os.environ.get(BUDGET_ENV)
    with hostile_case(base, budget_mb=8) as case:
        assert os.environ[BUDGET_ENV] == "8" and tempfile.gettempdir() != temp
        case.says("error: this file declares 1 TB; the limit is 8 MB\n")
    assert tempfile.gettempdir() == temp and os.environ.get(BUDGET_ENV) == budget


def test_allocating_the_hostile_size_fails(base):
    grown = r"resident memory grew by \d+ MB; the budget is 8 MB, the margin"
    with pytest.raises(AssertionError, match=grown), hostile_case(base, budget_mb=8) as case:
        case.says("refused")
        # written, so resident; above glibc's largest mmap threshold (32 MB), so new pages, as a hostile size
        # would be: a smaller block can reuse heap pages a long-running worker freed but still holds (seen in CI)
        held = b"x" * ((8 + MARGIN_MB + 64) * 2**20)
    del held


def test_a_file_written_outside_the_app_folders_fails(base, tmp_path, workspace):
    outside = "written outside the app's folders: .*stray.txt"
    with pytest.raises(AssertionError, match=outside), hostile_case(base) as case:
        (workspace / "data" / "inside.txt").write_text("the app's own folder: fine")
        (tmp_path / "stray.txt").write_text("x")
        case.says("refused")


def test_a_temporary_file_left_behind_fails_and_the_folder_goes(base):
    left = "written outside the app's folders: .*hostile-case-tmp-"
    with pytest.raises(AssertionError, match=left), hostile_case(base) as case:
        handle, _ = tempfile.mkstemp()
        os.close(handle)
        case.says("refused")
    assert not list(base.glob("hostile-case-tmp-*"))


@pytest.mark.parametrize("message", ["first line\nsecond line", "", "Traceback (most recent call last):"])
def test_a_message_that_is_not_one_clear_line_fails(base, message):
    with pytest.raises(AssertionError, match="not one clear line"), hostile_case(base) as case:
        case.says(message)


def test_a_case_that_says_nothing_fails(base):
    with pytest.raises(AssertionError, match="states its outcome"), hostile_case(base):
        pass


def test_the_watch_counts_bytes_written_and_time(base, workspace):
    with Watch(base, [workspace]) as watch:
        (workspace / "data" / "out.bin").write_bytes(bytes(5000))
    assert watch.written >= 5000 and watch.outside == [] and 0 <= watch.seconds < 5
