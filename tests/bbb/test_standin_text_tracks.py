"""The stand-in's putRecordingTextTrack against the API reference (fixtures/
put_recording_text_track.json says where): a POST whose checksum covers the query only,
the file as the multipart `file` part (encoded here by httpx, not by us), no file part
deleting the track; the documented answers and error keys."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from meetfleet.bbb.checksum import sign_query
from meetfleet.testing.bbb_standin import MAX_UPLOAD_BYTES, StandinRecording, TestServer
from tests.bbb.conftest import SECRET

DOCUMENTED = json.loads((Path(__file__).parent / "fixtures" / "put_recording_text_track.json").read_text())
RECORD = "183f0bf3a0982a127bdb8161e0c44eb696b3e75c-1554230749920"
VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello.\n"


@pytest.fixture
def recorded(bbb: TestServer) -> StandinRecording:
    return bbb.state.add_recording(StandinRecording(record_id=RECORD, meeting_id="room", name="Room",
                                                    start_time_ms=1_554_230_749_920, end_time_ms=1_554_230_849_920))


def put(bbb: TestServer, params: dict[str, str], file: bytes | None = VTT, secret: str = SECRET) -> httpx.Response:
    url = f"{bbb.api_url}/putRecordingTextTrack?{sign_query('putRecordingTextTrack', params, secret, 'sha256')}"
    return httpx.post(url, files={"file": ("t.vtt", file, "text/vtt")} if file is not None else None, timeout=5)


def tracks(bbb: TestServer) -> dict:
    url = f"{bbb.api_url}/getRecordingTextTracks?{sign_query('getRecordingTextTracks', {'recordID': RECORD}, SECRET)}"
    return httpx.get(url, timeout=5).json()["response"]


def test_an_upload_answers_the_documented_success_and_lists_the_track(bbb, recorded):
    answer = put(bbb, {"recordID": RECORD, "kind": "subtitles", "lang": "pt-BR", "label": "Brazil"})
    assert answer.headers["Content-Type"].startswith("application/json")
    expected = json.loads(json.dumps(DOCUMENTED["success"]).replace("RECORD_ID", RECORD))
    assert answer.json() == expected
    listed = tracks(bbb)["tracks"]
    assert [(t["kind"], t["lang"], t["label"], t["source"]) for t in listed] == [("subtitles", "pt-BR", "Brazil",
                                                                                   "upload")]
    assert recorded.uploads[("subtitles", "pt-BR")] == VTT


def test_a_second_upload_of_the_same_kind_and_lang_replaces_it_and_no_file_deletes_it(bbb, recorded):
    params = {"recordID": RECORD, "kind": "captions", "lang": "en"}
    put(bbb, params)
    put(bbb, params, file=b"WEBVTT\n\nnewer\n")
    assert len(tracks(bbb)["tracks"]) == 1 and recorded.uploads[("captions", "en")] == b"WEBVTT\n\nnewer\n"
    assert put(bbb, params, file=None).json()["response"]["returncode"] == "SUCCESS"
    assert tracks(bbb)["messageKey"] == "noCaptionsFound"


def test_an_empty_file_answers_the_documented_error(bbb, recorded):
    assert put(bbb, {"recordID": RECORD, "kind": "subtitles", "lang": "en"}, file=b"").json() == DOCUMENTED["empty"]


@pytest.mark.parametrize(("params", "key"), [
    ({"kind": "subtitles", "lang": "en"}, "paramError"),
    ({"recordID": RECORD, "kind": "chapters", "lang": "en"}, "invalidKind"),
    ({"recordID": RECORD, "kind": "subtitles", "lang": "english please"}, "invalidLang"),
    ({"recordID": "nope", "kind": "subtitles", "lang": "en"}, "noRecordings"),
])
def test_documented_errors(bbb, recorded, params, key):
    answer = put(bbb, params).json()["response"]
    assert (answer["returncode"], answer["messageKey"]) == ("FAILED", key)
    assert set(answer) == set(DOCUMENTED["missing_param"]["response"])  # the documented keys, no more
    assert recorded.uploads == {}


def test_the_checksum_covers_the_query_not_the_body_and_a_wrong_one_is_refused(bbb, recorded):
    assert b"checksumError" in put(bbb, {"recordID": RECORD, "kind": "subtitles", "lang": "en"},
                                   secret="someone-elses-secret").content
    assert recorded.uploads == {}


def test_an_upload_over_the_limit_is_refused_before_it_is_read(bbb, recorded):
    answer = put(bbb, {"recordID": RECORD, "kind": "subtitles", "lang": "en"}, file=b"x" * (MAX_UPLOAD_BYTES + 1))
    assert answer.status_code == 413
    assert recorded.uploads == {}
