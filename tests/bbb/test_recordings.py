"""getRecordings: the client's hardened parsing against BBB's documented answers
(tests/bbb/fixtures/get_recordings.xml, no_recordings.xml, recordings_not_found.xml, each
naming its source), and the stand-in's recording calls against the same shapes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from meetfleet.bbb import BbbClient, BbbEndpoint, BbbError, ErrorKind
from meetfleet.bbb.parsing import parse_recordings, parse_response
from meetfleet.testing.bbb_standin import HOSTILE_BODY, StandinRecording, TestServer
from tests.bbb.conftest import SECRET

FIXTURES = Path(__file__).parent / "fixtures"
DOC_IDS = ["ffbfc4cc24428694e8b53a4e144f414052431693-1530718721124",
           "ffbfc4cc24428694e8b53a4e144f414052431693-1530278898111"]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def paths(element, prefix: str = "") -> list[str]:
    """Every element's path below `element`, in document order."""
    out = []
    for child in element:
        here = f"{prefix}/{child.tag}" if prefix else child.tag
        out.append(here)
        out += paths(child, here)
    return out


def test_the_documented_example_parses_whole() -> None:
    result = parse_recordings(fixture("get_recordings.xml"))
    assert result.fields == {"returncode": "SUCCESS"}
    assert [r.findtext("recordID") for r in result.recordings] == DOC_IDS
    first = result.recordings[0]
    assert first.findtext("meetingID") == "c637ba21adcd0191f48f5c4bf23fab0f96ed5c18"
    assert first.findtext("name") == "Fred's Room"
    assert first.findtext("metadata/gl-listed") == "false"
    assert [f.findtext("type") for f in first.iterfind("playback/format")] == ["podcast", "presentation"]
    image = first.find("playback/format/preview/images/image")
    assert image.attrib == {"alt": "Welcome to", "height": "136", "width": "176"}  # attributes kept as given


def test_keep_drops_the_other_recordings_as_they_are_read() -> None:
    result = parse_recordings(fixture("get_recordings.xml"), keep=lambda r: r.findtext("participants") == "7")
    assert result.seen == 2
    assert [r.findtext("recordID") for r in result.recordings] == DOC_IDS[1:]


def test_no_recordings_and_not_found_as_bbb_answers_them() -> None:
    none = parse_recordings(fixture("no_recordings.xml"))
    assert (none.fields["returncode"], none.message_key, none.recordings) == ("SUCCESS", "noRecordings", [])
    missing = parse_response(fixture("recordings_not_found.xml")).fields
    assert (missing["returncode"], missing["messageKey"]) == ("FAILED", "notFound")


@pytest.mark.parametrize(("body", "kind"), [
    (HOSTILE_BODY, ErrorKind.HOSTILE),
    (b"<<<not xml", ErrorKind.MALFORMED),
    (b"<meetings/>", ErrorKind.MALFORMED),
    (b"<response><recordings/></response>", ErrorKind.MALFORMED),  # no returncode
])
def test_hostile_or_malformed_answers_are_refused(body: bytes, kind: ErrorKind) -> None:
    with pytest.raises(BbbError) as refused:
        parse_recordings(body)
    assert refused.value.kind == kind


def test_the_byte_cap_holds() -> None:
    with pytest.raises(BbbError) as refused:
        parse_recordings(fixture("get_recordings.xml"), max_bytes=100)
    assert refused.value.kind == ErrorKind.TOO_LARGE


def _standin_recording(server: TestServer, record_id: str, meeting_id: str, **metadata: str) -> StandinRecording:
    return server.state.add_recording(StandinRecording(
        record_id=record_id, meeting_id=meeting_id, name=f"Room {meeting_id}", start_time_ms=1_800_000_000_000,
        end_time_ms=1_800_000_600_000, participants=3, metadata=dict(metadata)))


def test_the_standins_recording_has_the_documented_shape(bbb: TestServer, endpoint: BbbEndpoint) -> None:
    _standin_recording(bbb, "a" * 40 + "-1800000000000", "room-1", tenant="acme")
    documented = parse_recordings(fixture("get_recordings.xml")).recordings[0]
    ours = asyncio.run(_get_recordings(endpoint)).recordings[0]
    doc_paths, our_paths = paths(documented), paths(ours)
    # every element the stand-in writes is one the documentation shows, in the documentation's order
    assert set(our_paths) <= set(doc_paths) | {"metadata/tenant"}
    leaves = [p for p in our_paths if "/" not in p]
    assert leaves == [p for p in doc_paths if "/" not in p]
    assert ours.findtext("metadata/meetingId") == "room-1" and ours.findtext("metadata/tenant") == "acme"


async def _get_recordings(endpoint: BbbEndpoint, params: dict[str, str] | None = None, keep=None):
    async with BbbClient(timeout=5) as client:
        return await client.get_recordings(endpoint, params, keep=keep)


def test_standin_filters_publishes_updates_and_deletes(bbb: TestServer, endpoint: BbbEndpoint) -> None:
    _standin_recording(bbb, "rec-1", "room-1", tenant="acme")
    _standin_recording(bbb, "rec-2", "room-2", tenant="bakery")

    def ids(**params: str) -> list[str]:
        return [r.findtext("recordID") for r in asyncio.run(_get_recordings(endpoint, params)).recordings]

    assert ids() == ["rec-1", "rec-2"]
    assert ids(meetingID="room-2") == ["rec-2"]
    assert ids(meta_tenant="acme") == ["rec-1"]
    assert ids(recordID="rec") == ["rec-1", "rec-2"]  # a recordID's first characters match, as BBB documents
    assert ids(offset="1", limit="1") == ["rec-2"]

    async def call(name: str, params: dict[str, str]):
        async with BbbClient(timeout=5) as client:
            return await client.call(endpoint, name, params)

    published = asyncio.run(call("publishRecordings", {"recordID": "rec-1", "publish": "false"}))
    assert published.fields["published"] == "false"
    assert ids() == ["rec-1", "rec-2"] and bbb.state.recordings["rec-1"].state == "unpublished"
    assert ids(state="published") == ["rec-2"]
    asyncio.run(call("updateRecordings", {"recordID": "rec-1", "meta_gl-listed": "true"}))
    assert bbb.state.recordings["rec-1"].metadata["gl-listed"] == "true"
    assert asyncio.run(call("deleteRecordings", {"recordID": "rec-1"})).fields["deleted"] == "true"
    assert ids() == ["rec-2"] and ids(state="any") == ["rec-1", "rec-2"]
    empty = asyncio.run(_get_recordings(endpoint, {"meetingID": "nothing"}))
    assert (empty.message_key, empty.recordings) == ("noRecordings", [])
    assert bbb.httpd.seen["deleteRecordings"] == 1


def test_a_recorded_meeting_leaves_a_recording_when_it_ends(bbb: TestServer, endpoint: BbbEndpoint) -> None:
    async def run():
        async with BbbClient(timeout=5) as client:
            await client.create(endpoint, "rec-room", "Recorded", metadata={"tenant": "acme"},
                                extra={"record": "true"})
            await client.create(endpoint, "plain-room", "Not recorded")
            await client.end(endpoint, "rec-room")
            await client.end(endpoint, "plain-room")
            return await client.get_recordings(endpoint)

    result = asyncio.run(run())
    assert [r.findtext("meetingID") for r in result.recordings] == ["rec-room"]
    recording = result.recordings[0]
    assert recording.findtext("recordID") == recording.findtext("internalMeetingID")
    assert (recording.findtext("state"), recording.findtext("metadata/tenant")) == ("published", "acme")


def test_a_wrong_secret_is_refused_for_recordings_too(bbb: TestServer) -> None:
    with pytest.raises(BbbError) as refused:
        asyncio.run(_get_recordings(BbbEndpoint(bbb.api_url, SECRET + "x", "sha1")))
    assert refused.value.kind == ErrorKind.CHECKSUM
