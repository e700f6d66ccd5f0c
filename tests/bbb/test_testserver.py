"""The BBB API test server itself: says what it is, BBB's rules, seeding, standalone use."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from meetfleet.bbb.checksum import sign_query
from meetfleet.bbb.parsing import parse_response
from meetfleet.testing import bbb_standin as testserver
from meetfleet.testing.bbb_standin import STANDIN, TestServer
from tests.bbb.conftest import SECRET

SCRIPT = Path(testserver.__file__)


def _get(server: TestServer, call: str, params: dict[str, str], secret: str = SECRET, algorithm: str = "sha1"):
    url = f"{server.api_url}/{call}?{sign_query(call, params, secret, algorithm)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.headers, response.read()


def test_every_answer_says_it_is_a_stand_in(bbb: TestServer) -> None:
    headers, body = _get(bbb, "getMeetings", {})
    assert headers["X-Standin"] == STANDIN
    assert parse_response(body).fields["standin"] == STANDIN
    _, body = _get(bbb, "create", {}, secret="wrong")
    assert parse_response(body).fields["standin"] == STANDIN


def test_api_root_answers_without_checksum(bbb: TestServer) -> None:
    with urllib.request.urlopen(bbb.api_url, timeout=5) as response:
        fields = parse_response(response.read()).fields
    assert fields["returncode"] == "SUCCESS" and fields["apiVersion"] == "2.0"


@pytest.mark.parametrize(("call", "params", "key"), [
    ("create", {"name": "x"}, "missingParamMeetingID"),
    ("create", {"name": "x", "meetingID": "a,b"}, "invalidMeetingIdentifier"),
    ("create", {"meetingID": "room"}, "missingParamName"),
    ("join", {"meetingID": "none", "fullName": "a"}, "invalidMeetingIdentifier"),
    ("end", {"meetingID": "none"}, "notFound"),
    ("publishRecordings", {"publish": "true"}, "missingParamRecordID"),
    ("publishRecordings", {"recordID": "none", "publish": "true"}, "notFound"),
    ("deleteRecordings", {"recordID": "none"}, "notFound"),
    ("updateRecordings", {"recordID": "none", "meta_x": "y"}, "notFound"),
    ("getRecordingTextTracks", {}, "missingParamRecordID"),
    ("putRecordingTextTrack", {"recordID": "none"}, "unsupportedRequest"),
])
def test_bbb_errors(bbb: TestServer, call: str, params: dict[str, str], key: str) -> None:
    fields = parse_response(_get(bbb, call, params)[1]).fields
    assert (fields["returncode"], fields["messageKey"]) == ("FAILED", key)


def test_missing_or_tampered_checksum_is_refused(bbb: TestServer) -> None:
    with urllib.request.urlopen(f"{bbb.api_url}/getMeetings", timeout=5) as response:
        assert parse_response(response.read()).fields["messageKey"] == "checksumError"
    query = sign_query("create", {"name": "x", "meetingID": "room"}, SECRET, "sha256").replace("room", "roon")
    with urllib.request.urlopen(f"{bbb.api_url}/create?{query}", timeout=5) as response:
        assert parse_response(response.read()).fields["messageKey"] == "checksumError"


def test_seeded_breakout_is_listed_under_its_parent(bbb: TestServer) -> None:
    bbb.seed({"meetings": [{"id": "room", "participants": 4, "breakouts": [{"id": "room-b1", "participants": 2}]}]})
    room, breakout = parse_response(_get(bbb, "getMeetings", {})[1]).meetings
    assert breakout.is_breakout and breakout.parent_id == room.internal_id
    assert (room.participants, breakout.participants) == (4, 2)


def test_inconsistent_seed_is_refused_with_the_meeting_named() -> None:
    with pytest.raises(ValueError, match=r"'bad'.*listen_only \(3\) \+ voice \(2\) exceed participants \(4\)"):
        testserver.make_attendees("bad", 4, listen_only=3, voice=2)


def test_unknown_scenario_key_is_refused_by_name(bbb: TestServer) -> None:
    with pytest.raises(ValueError, match=r"'room': unknown keys listenonly"):
        bbb.seed({"meetings": [{"id": "room", "participants": 3, "listenonly": 1}]})
    with pytest.raises(ValueError, match=r"'b1': unknown keys breakouts"):
        bbb.seed({"meetings": [{"id": "r2", "breakouts": [{"id": "b1", "breakouts": []}]}]})


def test_scenario_file_error_exits_2_naming_the_option(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET)
    (tmp_path / "scenario.json").write_text('{"meetings": [{"id": "x", "participants": 2, "video": 3}]}')
    done = subprocess.run([sys.executable, str(SCRIPT), "--secret-file", str(tmp_path / "secret"), "--port", "0",
                           "--scenario", str(tmp_path / "scenario.json")], capture_output=True, text=True, timeout=10)
    assert done.returncode == 2 and "--scenario" in done.stderr and "video (3)" in done.stderr


def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET)
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--secret-file", str(tmp_path / "secret"), "--port", "0",
                             "--bind", "127.0.0.1"], stderr=subprocess.PIPE, text=True)
    assert "listening on" in proc.stderr.readline()
    proc.terminate()
    assert proc.wait(timeout=5) == 0


def test_help_says_it_is_not_bigbluebutton() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True).stdout
    assert "NOT BIGBLUEBUTTON" in out and "--wrong-checksum" in out


def test_runs_standalone_with_debian_python_and_seeds_from_options(tmp_path: Path) -> None:
    """As copied to a lab host: the file alone, Debian's python3, no meetfleet installed."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    copy = tmp_path / "testserver.py"
    copy.write_bytes(SCRIPT.read_bytes())
    (tmp_path / "secret").write_text(SECRET + "\n")
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [python, "-I", str(copy), "--port", str(port), "--secret-file", str(tmp_path / "secret"),
         "--meetings", "3", "--participants", "5", "--listen-only", "2", "--video", "1", "--tenant", "acme"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/bigbluebutton/api/getMeetings?{sign_query('getMeetings', {}, SECRET)}"
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    body = response.read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        meetings = parse_response(body).meetings
        assert len(meetings) == 3
        assert {(m.participants, m.listeners, m.voice, m.video, m.metadata["tenant"]) for m in meetings} == {
            (5, 2, 3, 1, "acme")}
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert STANDIN in proc.stderr.read()


def test_missing_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--secret-file", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "--secret-file" in done.stderr and "No such file" in done.stderr
