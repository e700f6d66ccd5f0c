"""Recording calls through the gateway, driven by the PyPI client bbbctl (SHA-1) against the
BBB API stand-ins: a tenant lists, publishes, updates and deletes only its own recordings;
another tenant's recordID answers notFound and no server is sent the call; answers are
shaped as BBB documents them (tests/bbb/fixtures/get_recordings.xml, no_recordings.xml,
recordings_not_found.xml, from the API reference and bbb-web)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import pytest
from bbbctl import ApiError, BBBApiClient

from meetfleet.testing.bbb_standin import StandinRecording
from tests.gateway.conftest import TENANT_SECRETS, Fleet

FIXTURES = Path(__file__).parents[1] / "bbb" / "fixtures"
CHANGES = ("publishRecordings", "deleteRecordings", "updateRecordings")


def client(gateway, tenant: str, secret: str | None = None) -> BBBApiClient:
    return BBBApiClient(gateway.url(tenant), secret or TENANT_SECRETS[tenant])


def key_of(error: ApiError) -> str:
    return error.tree.findtext("messageKey")


def recorded_meeting(api: BBBApiClient, meeting: str) -> None:
    """A meeting created with record=true and ended: the stand-in leaves its recording."""
    api.createMeeting(meeting, f"Room {meeting}", record="true")
    api.end(meeting)


def record_id(fleet: Fleet, server: str, upstream_meeting: str) -> str:
    return next(r.record_id for r in fleet.standins[server].state.recordings.values()
                if r.meeting_id == upstream_meeting)


def seen(fleet: Fleet, call: str) -> int:
    return sum(standin.httpd.seen.get(call, 0) for standin in fleet.standins.values())


def outcome(gateway, call: str, result: str) -> float:
    return gateway.gateway.metrics.calls.labels(call, result)._value.get()


@pytest.fixture
def recordings(fleet, gateway):
    """acme and bakery each record a meeting called "weekly" on bbb-1 (their server); acme has
    an older recording on bbb-3 (a meeting that fell back there); two recordings whose tag and
    namespace disagree, which belong to nobody."""
    recorded_meeting(client(gateway, "acme"), "weekly")
    recorded_meeting(client(gateway, "bakery"), "weekly")
    older = fleet.standins["bbb-3.test"].state
    older.add_recording(StandinRecording(
        record_id="0123456789abcdef0123456789abcdef01234567-1700000000000", meeting_id="acme~old-room",
        name="Old room", start_time_ms=1_700_000_000_000, end_time_ms=1_700_003_600_000, participants=5,
        metadata={"tenant": "acme", "gl-listed": "false"}))
    for meeting, tag in (("acme~forged", "bakery"), ("bakery~forged", "acme")):
        older.add_recording(StandinRecording(
            record_id=hashlib.sha1(meeting.encode()).hexdigest() + "-1700000000000", meeting_id=meeting,
            name="Forged", start_time_ms=1_700_000_000_000, end_time_ms=1_700_000_060_000,
            metadata={"tenant": tag}))
    return {"acme": record_id(fleet, "bbb-1.test", "acme~weekly"),
            "bakery": record_id(fleet, "bbb-1.test", "bakery~weekly"),
            "acme-old": "0123456789abcdef0123456789abcdef01234567-1700000000000"}


def test_a_tenants_get_recordings_lists_only_its_own(fleet, gateway, recordings):
    acme = client(gateway, "acme").getRecordings()
    assert sorted(r.findtext("recordID") for r in acme) == sorted([recordings["acme"], recordings["acme-old"]])
    # its own meetingIDs, in the recording and in its metadata, as it created them
    assert sorted(r.findtext("meetingID") for r in acme) == ["old-room", "weekly"]
    assert sorted(r.findtext("metadata/meetingId") for r in acme) == ["old-room", "weekly"]
    bakery = client(gateway, "bakery").getRecordings()
    assert [(r.findtext("recordID"), r.findtext("meetingID")) for r in bakery] == [(recordings["bakery"], "weekly")]
    # meetingID filters by the tenant's own IDs (namespaced upstream)
    only = client(gateway, "acme").getRecordings(meetingID="old-room")
    assert [r.findtext("recordID") for r in only] == [recordings["acme-old"]]
    # a recordID's first characters, a wildcard for BBB, still only match the tenant's own
    assert [r.findtext("recordID") for r in client(gateway, "bakery").getRecordings(recordID="0")] == []
    assert outcome(gateway, "getRecordings", "ok") == 4


def test_the_answer_has_bbbs_documented_shape(gateway, recordings):
    documented = ElementTree.parse(FIXTURES / "get_recordings.xml").getroot()
    ours = client(gateway, "acme").call("getRecordings", meetingID="weekly")
    assert [c.tag for c in ours] == [c.tag for c in documented]  # returncode, recordings
    recording, example = ours.find("recordings/recording"), documented.find("recordings/recording")
    assert [c.tag for c in recording] == [c.tag for c in example]
    assert [c.tag for c in recording.find("playback/format")] == [c.tag for c in example.find("playback/format")
                                                                   if c.tag != "preview"]
    # nothing: SUCCESS, an empty <recordings>, noRecordings, as bbb-web answers
    none = client(gateway, "school").call("getRecordings")
    empty = ElementTree.parse(FIXTURES / "no_recordings.xml").getroot()
    assert [(c.tag, (c.text or "").strip()) for c in none] == [(c.tag, (c.text or "").strip()) for c in empty]


def test_another_tenants_recording_is_not_found_and_never_reaches_a_server(fleet, gateway, recordings):
    acme = client(gateway, "acme")
    theirs = recordings["bakery"]
    attempts = [lambda: acme.publishRecordings(theirs, "false"), lambda: acme.deleteRecordings(theirs),
                lambda: acme.call("updateRecordings", recordID=theirs, meta_tenant="acme")]
    for attempt in attempts:
        with pytest.raises(ApiError) as refused:
            attempt()
        assert key_of(refused.value) == "notFound"
        assert refused.value.tree.findtext("message") == "We could not find recordings"  # bbb-web's words
    for call in CHANGES:
        assert seen(fleet, call) == 0, call
        assert outcome(gateway, call, "not_found") == 1, call
    state = fleet.standins["bbb-1.test"].state.recordings[theirs]
    assert (state.state, state.metadata["tenant"]) == ("published", "bakery")
    # a recordID that is nobody's, or one of the forged ones, answers the same
    for other in ("no-such-recording", hashlib.sha1(b"acme~forged").hexdigest() + "-1700000000000"):
        with pytest.raises(ApiError) as refused:
            acme.deleteRecordings(other)
        assert key_of(refused.value) == "notFound"
    assert seen(fleet, "deleteRecordings") == 0


def test_a_tenant_changes_its_own_recordings_and_only_those(fleet, gateway, recordings):
    acme = client(gateway, "acme")
    held = fleet.standins["bbb-1.test"].state.recordings
    # a list mixing its own and another tenant's: only its own is sent on
    answer = acme.publishRecordings(f"{recordings['acme']},{recordings['bakery']}", "false")
    assert answer.findtext("published") == "false"
    assert (held[recordings["acme"]].state, held[recordings["bakery"]].state) == ("unpublished", "published")
    assert seen(fleet, "publishRecordings") == 1
    # updateRecordings: its metadata, never its tenant tag
    acme.call("updateRecordings", recordID=recordings["acme"], **{"meta_gl-listed": "true", "meta_tenant": "bakery"})
    assert held[recordings["acme"]].metadata == {"tenant": "acme", "gl-listed": "true"}
    # a recording on another server of its region (bbb-3) is found there
    assert acme.deleteRecordings(recordings["acme-old"]).findtext("deleted") == "true"
    assert fleet.standins["bbb-3.test"].state.recordings[recordings["acme-old"]].state == "deleted"
    assert fleet.standins["bbb-3.test"].httpd.seen.get("deleteRecordings") == 1
    assert [r.findtext("recordID") for r in acme.getRecordings()] == [recordings["acme"]]
    for call in CHANGES:
        assert outcome(gateway, call, "ok") == 1, call
    # BBB's own refusals for a missing recordID or publish value, before any server is asked
    for call, params, key in (("publishRecordings", {"publish": "true"}, "missingParamRecordID"),
                              ("publishRecordings", {"recordID": recordings["acme"]}, "missingParamPublish"),
                              ("deleteRecordings", {}, "missingParamRecordID")):
        with pytest.raises(ApiError) as refused:
            acme.call(call, **params)
        assert key_of(refused.value) == key


def test_recording_calls_check_the_tenants_own_checksum(fleet, gateway, recordings):
    for call, params in (("getRecordings", {}), ("deleteRecordings", {"recordID": recordings["acme"]})):
        with pytest.raises(ApiError) as refused:
            client(gateway, "acme", TENANT_SECRETS["bakery"]).call(call, **params)
        assert key_of(refused.value) == "checksumError"
        assert outcome(gateway, call, "checksum") == 1
    query = urlencode({"recordID": recordings["acme"]})
    for algorithm in ("sha256", "sha512"):  # what bbbctl does not sign with
        digest = hashlib.new(algorithm, ("getRecordings" + query + TENANT_SECRETS["acme"]).encode()).hexdigest()
        with urllib.request.urlopen(f"{gateway.url('acme')}/getRecordings?{query}&checksum={digest}",
                                    timeout=10) as answer:
            root = ElementTree.fromstring(answer.read())
        assert [r.findtext("recordID") for r in root.iterfind("recordings/recording")] == [recordings["acme"]]
    assert seen(fleet, "deleteRecordings") == 0
    assert fleet.standins["bbb-1.test"].state.recordings[recordings["acme"]].state == "published"


def test_pagination_is_the_gateways_over_the_tenants_recordings(gateway, recordings):
    acme = client(gateway, "acme")
    everything = [r.findtext("recordID") for r in acme.getRecordings()]
    assert len(everything) == 2
    assert [r.findtext("recordID") for r in acme.getRecordings(offset="1", limit="1")] == everything[1:]
    with pytest.raises(ApiError) as refused:
        acme.getRecordings(limit="500")
    assert key_of(refused.value) == "invalidParameter"


def test_a_server_that_does_not_answer_fails_the_call_rather_than_hiding_recordings(fleet, gateway, recordings):
    acme = client(gateway, "acme")
    fleet.standins["bbb-3.test"].faults.mode = "hostile"  # an entity bomb: refused, never expanded
    with pytest.raises(ApiError) as refused:
        acme.getRecordings()
    assert key_of(refused.value) == "serverUnavailable"
    assert gateway.gateway.metrics.upstream_errors.labels("bbb-3.test", "hostile")._value.get() >= 1
    with pytest.raises(ApiError) as refused:  # ownership cannot be told: nothing is changed
        acme.deleteRecordings(recordings["acme"])
    assert key_of(refused.value) == "serverUnavailable"
    assert seen(fleet, "deleteRecordings") == 0
    assert outcome(gateway, "getRecordings", "upstream") == 1
    fleet.standins["bbb-3.test"].faults.mode = None
    assert len(acme.getRecordings()) == 2


def test_text_tracks_of_its_own_recording_only(fleet, gateway, recordings):
    held = fleet.standins["bbb-1.test"].state.recordings
    held[recordings["acme"]].tracks = [{"kind": "subtitles", "label": "English", "lang": "en-US", "source": "upload"}]
    held[recordings["bakery"]].tracks = [{"kind": "captions", "label": "Deutsch", "lang": "de-DE", "source": "live"}]

    def tracks(tenant: str, record: str) -> tuple[str, dict]:
        url = client(gateway, tenant).makeurl("getRecordingTextTracks", recordID=record)  # bbbctl signs it
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.headers["Content-Type"], json.loads(answer.read())

    kind, own = tracks("acme", recordings["acme"])
    assert kind.startswith("application/json")  # bbb-web answers this call in JSON
    assert own["response"]["returncode"] == "SUCCESS"
    listed = [(t["lang"], t["kind"], t["source"]) for t in own["response"]["tracks"]]
    assert listed == [("en-US", "subtitles", "upload")]
    assert seen(fleet, "getRecordingTextTracks") == 1
    _, theirs = tracks("acme", recordings["bakery"])  # bbb-web's answer for a recording it does not have
    assert theirs == {"response": {"returncode": "FAILED", "messageKey": "noRecordings",
                                   "message": f"No recording found for {recordings['bakery']}"}}
    assert seen(fleet, "getRecordingTextTracks") == 1  # not sent on
    _, none = tracks("acme", recordings["acme-old"])  # its own, without tracks: the server's own answer
    assert (none["response"]["returncode"], none["response"]["messageKey"]) == ("FAILED", "noCaptionsFound")
    assert outcome(gateway, "getRecordingTextTracks", "not_found") == 1
    assert outcome(gateway, "getRecordingTextTracks", "ok") == 1


VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nWelcome to the weekly meeting.\n"


def put_track(gateway, tenant: str, record: str, lang: str = "en-US", *, file: bytes | None = VTT) -> dict:
    """putRecordingTextTrack as the API reference describes it: the checksum over the query
    (bbbctl signs it), the file as the multipart `file` part (httpx encodes it)."""
    url = client(gateway, tenant).makeurl("putRecordingTextTrack", recordID=record, kind="subtitles", lang=lang,
                                          label="English")
    files = {"file": ("weekly.vtt", file, "text/vtt")} if file is not None else None
    answer = httpx.post(url, files=files, timeout=10)
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()["response"]


def test_a_tenant_uploads_a_text_track_to_its_own_recording_and_the_file_arrives_whole(fleet, gateway, recordings):
    answer = put_track(gateway, "acme", recordings["acme"])
    assert answer == {"returncode": "SUCCESS", "messageKey": "upload_text_track_success",
                      "message": "Text track uploaded successfully", "recordId": recordings["acme"]}
    held = fleet.standins["bbb-1.test"].state.recordings[recordings["acme"]]
    assert held.uploads[("subtitles", "en-US")] == VTT  # the multipart body passed on as it came
    assert held.tracks == [{"kind": "subtitles", "lang": "en-US", "label": "English", "source": "upload"}]
    # and without a file part, BBB deletes the track of that kind and lang
    assert put_track(gateway, "acme", recordings["acme"], file=None)["returncode"] == "SUCCESS"
    assert held.tracks == []


def test_a_text_track_for_another_tenants_recording_reaches_no_server(fleet, gateway, recordings):
    answer = put_track(gateway, "acme", recordings["bakery"])
    assert answer == {"returncode": "FAILED", "messageKey": "noRecordings",
                      "message": f"No recording found for {recordings['bakery']}"}
    assert seen(fleet, "putRecordingTextTrack") == 0
    assert fleet.standins["bbb-1.test"].state.recordings[recordings["bakery"]].uploads == {}


def test_the_servers_own_refusal_of_a_text_track_reaches_the_tenant(fleet, gateway, recordings):
    answer = put_track(gateway, "acme", recordings["acme"], lang="not a tag")
    assert (answer["returncode"], answer["messageKey"]) == ("FAILED", "invalidLang")
    assert put_track(gateway, "acme", recordings["acme"], file=b"")["messageKey"] == "empty_uploaded_text_track"


def test_a_text_track_upload_signed_with_another_secret_or_too_large_is_refused(fleet, gateway, recordings):
    forged = client(gateway, "acme", TENANT_SECRETS["bakery"]).makeurl(
        "putRecordingTextTrack", recordID=recordings["acme"], kind="subtitles", lang="en")
    assert b"checksumError" in httpx.post(forged, files={"file": ("a.vtt", VTT)}, timeout=10).content
    big = put_track(gateway, "acme", recordings["acme"], file=b"x" * (8 * 1024 * 1024 + 1))
    assert (big["returncode"], big["messageKey"]) == ("FAILED", "uploadTooLarge")
    assert seen(fleet, "putRecordingTextTrack") == 0
