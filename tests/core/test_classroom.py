"""Classroom mode's core: the codes, wrong-code limits, the roster and the class limits, kept on disk."""

import hmac
import json
import math
import time

import pytest

from cnn_core.access import classroom
from cnn_core.errors import StudioError


@pytest.fixture
def class_env(monkeypatch):
    """Classroom mode with no codes set (the empty values are restored after the test, whatever it made)."""
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "")
    for var in classroom.Limits.ENV.values():
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_random_codes_carry_at_least_64_bits_differ_and_stay_for_the_server(class_env):
    class_code, teacher_code = classroom.ensure_codes()
    for code in (class_code, teacher_code):
        assert len(code) * math.log2(64) >= 64 and code.replace("-", "").replace("_", "").isalnum()  # URL-safe base64
    assert class_code != teacher_code
    assert classroom.ensure_codes() == (class_code, teacher_code)  # every script run reads the same ones
    class_env.setenv(classroom.CLASS_CODE_ENV, "")
    class_env.setenv(classroom.TEACHER_CODE_ENV, "")
    assert classroom.ensure_codes()[0] != class_code  # a new server makes new ones


def test_codes_from_the_environment_win_and_equal_codes_are_refused(class_env):
    class_env.setenv(classroom.CLASS_CODE_ENV, " maple-7 ")
    class_env.setenv(classroom.TEACHER_CODE_ENV, "oak-9")
    assert classroom.ensure_codes() == ("maple-7", "oak-9")
    assert classroom.role_for_code("maple-7") == classroom.LEARNER
    assert classroom.role_for_code(" oak-9 ") == classroom.TEACHER
    for wrong in ("", "maple", "maple-77", "OAK-9", "oak-9\x00"):
        assert classroom.role_for_code(wrong) is None, wrong
    class_env.setenv(classroom.TEACHER_CODE_ENV, "maple-7")
    with pytest.raises(StudioError, match="must differ"):
        classroom.ensure_codes()


def test_codes_are_compared_in_constant_time(class_env):
    class_env.setenv(classroom.CLASS_CODE_ENV, "maple-7")
    class_env.setenv(classroom.TEACHER_CODE_ENV, "oak-9")
    compared = []
    real = hmac.compare_digest

    def watched(a, b):
        compared.append((a, b))
        return real(a, b)

    class_env.setattr(classroom.hmac, "compare_digest", watched)
    assert classroom.role_for_code("maple-7") == classroom.LEARNER
    # both codes are compared every time (no early exit that tells a learner code from a teacher one)
    assert (b"maple-7", b"oak-9") in compared and (b"maple-7", b"maple-7") in compared


def test_attempt_limiter_refuses_after_the_limit_per_address_until_the_window_passes():
    limiter = classroom.AttemptLimiter(limit=3, window=0.5)
    for _ in range(3):
        assert limiter.wait("10.0.0.5") == 0
        limiter.failed("10.0.0.5")
    wait = limiter.wait("10.0.0.5")
    assert 0 < wait <= 0.5
    assert limiter.wait("10.0.0.6") == 0  # another address is not held back
    time.sleep(wait + 0.05)
    assert limiter.wait("10.0.0.5") == 0


def test_the_roster_is_kept_on_disk_with_names_roles_and_join_order(class_env, workspace):
    assert classroom.member_of("a" * 32) is None and not classroom.admitted("a" * 32)
    learner = classroom.join("a" * 32, classroom.LEARNER, "  Ada\nLovelace\x07 ")
    classroom.join("b" * 32, classroom.TEACHER)
    assert learner.name == "AdaLovelace" and classroom.admitted("a" * 32)
    saved = json.loads((workspace / "runs" / ".classroom" / "members.json").read_text())
    assert "a" * 32 not in json.dumps(saved)  # the file holds owner tags, never the browsers' secrets
    assert [m.role for m in classroom.members()] == [classroom.LEARNER, classroom.TEACHER]
    classroom.rename("a" * 32, "Ada")
    classroom.join("a" * 32, classroom.LEARNER)  # joining again keeps the name
    assert classroom.name_of(classroom.owner_tag("a" * 32)) == "Ada"
    assert classroom.is_teacher("b" * 32) and not classroom.is_teacher("a" * 32)
    classroom.join("b" * 32, classroom.LEARNER)  # the class link does not demote the teacher
    assert classroom.is_teacher("b" * 32)
    with pytest.raises(StudioError, match="join the class"):
        classroom.rename("c" * 32, "Eve")


def test_class_limits_come_from_defaults_then_environment_then_the_teacher(class_env):
    assert classroom.limits() == classroom.Limits()
    class_env.setenv(classroom.Limits.ENV["queued_runs"], "5")
    class_env.setenv(classroom.Limits.ENV["run_minutes"], "ten")  # unreadable: the default stays
    assert classroom.limits().queued_runs == 5 and classroom.limits().run_minutes == 30
    classroom.set_limits(classroom.Limits(queued_runs=0, saved_runs=3))
    assert classroom.limits().queued_runs == 0 and classroom.limits().saved_runs == 3
    assert classroom.env_limits().queued_runs == 5  # what the server started with, shown beside them
    classroom.reset_limits()
    assert classroom.limits() == classroom.env_limits()
    classroom.reset_limits()  # nothing to forget is fine


def test_a_new_code_turns_old_members_into_strangers(class_env):
    """Members joined with a code: once it changes (a new class, a leaked link), they must join again."""
    classroom.join("a" * 32, classroom.LEARNER, "Ada")
    classroom.join("b" * 32, classroom.TEACHER, "Ms T")
    class_env.setenv(classroom.TEACHER_CODE_ENV, "a-new-teacher-code")
    assert not classroom.admitted("b" * 32) and not classroom.is_teacher("b" * 32)
    assert classroom.admitted("a" * 32)  # the class code did not change
    classroom.join("b" * 32, classroom.LEARNER)  # a stale teacher who comes back by the class link is a learner
    assert classroom.admitted("b" * 32) and not classroom.is_teacher("b" * 32)
    class_env.setenv(classroom.CLASS_CODE_ENV, "a-new-class-code")
    assert not classroom.admitted("a" * 32) and not classroom.admitted("b" * 32)
