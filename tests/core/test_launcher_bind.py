"""Where the server listens: loopback in personal mode (read from the real process's sockets), every
interface in classroom mode, the user's `--server.address` always; the links classroom mode prints."""

import ipaddress
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cnn_core.access import classroom
from tests.conftest import ROOT
from tests.e2e.conftest import free_port
from ui import launcher


def test_personal_mode_listens_on_loopback_and_classroom_mode_everywhere(capsys):
    assert launcher.listen_address(["--server.port", "9"], classroom_mode=False)[-2:] == ["--server.address", "127.0.0.1"]
    assert launcher.listen_address([], classroom_mode=True)[-2:] == ["--server.address", "0.0.0.0"]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "given", [["--server.address", "0.0.0.0"], ["--server.address=192.168.1.20"], ["--server.address", "myhost"]]
)
def test_an_address_the_user_gives_is_kept_and_a_public_one_warned_about_once(given, capsys):
    assert launcher.listen_address(given, classroom_mode=False) == given
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "every page, every run" in lines[0] and "folders" in lines[0] and "no code" in lines[0]
    assert launcher.listen_address(given, classroom_mode=True) == given  # classroom mode is meant to be reached
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "given", [["--server.address", "127.0.0.1"], ["--server.address=::1"], ["--server.address", "localhost"]]
)
def test_a_loopback_address_is_not_warned_about(given, capsys):
    assert launcher.listen_address(given, classroom_mode=False) == given
    assert capsys.readouterr().err == ""


def test_classroom_flag_is_taken_out_and_sets_the_mode(monkeypatch):
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "")
    assert launcher.take_classroom(["--server.port", "9", "--classroom"]) == ["--server.port", "9"]
    assert classroom.enabled()
    assert all(flag != "--server.address" for flag in launcher.config_flags(ROOT))  # the launcher decides it


def test_classroom_start_prints_both_links_and_where_the_codes_came_from(monkeypatch, capsys):
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "maple 7")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "")
    launcher.announce_classroom(["--server.address", "10.1.2.3", "--server.port", "8600"])
    err = capsys.readouterr().err
    teacher_code = os.environ[classroom.TEACHER_CODE_ENV]
    assert "class link  : http://10.1.2.3:8600/?code=maple+7  (from $CNN_STUDIO_CLASS_CODE)" in err
    assert f"teacher link: http://10.1.2.3:8600/?code={teacher_code}  (made now" in err


def test_serve_help_names_classroom_mode(capsys):
    assert launcher.main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--classroom" in out and "CNN_STUDIO_CLASS_CODE" in out and "127.0.0.1" in out


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket the process holds, read from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                address, port = cols[1].split(":")
                raw = bytes.fromhex(address)  # 32-bit words in the host's (little-endian) order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append((str(ipaddress.ip_address(raw)), int(port, 16)))
    return found


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="reads Linux's /proc")
def test_the_real_server_listens_only_on_loopback_when_no_address_is_given(tmp_path):
    port = free_port()
    env = {**os.environ, "CNN_STUDIO_RUNS_DIR": str(tmp_path / "runs"), "CNN_STUDIO_DATA_DIR": str(tmp_path / "data")}
    env.pop(classroom.CLASSROOM_ENV, None)
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "scripts/serve.py", "--server.port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                time.sleep(0.1)
        sockets = _listening(proc.pid)
        assert (("127.0.0.1", port) in sockets) and all(address == "127.0.0.1" for address, _ in sockets), sockets
    finally:
        proc.terminate()
        proc.wait(timeout=30)
