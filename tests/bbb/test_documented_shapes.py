"""The client against BBB's own documented answers (tests/bbb/fixtures/, each saying where
it comes from), and the test server against the same shapes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from xml.etree import ElementTree

import pytest

from meetfleet.bbb import BbbClient, BbbEndpoint, Meeting
from meetfleet.bbb.parsing import ResponseParser, check_returncode, parse_response
from meetfleet.testing.bbb_standin import TestServer

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_id(meetings: list[Meeting]) -> dict[str, Meeting]:
    return {m.meeting_id: m for m in meetings}


def test_every_fixture_names_its_source() -> None:
    for path in FIXTURES.glob("*.xml"):
        text = path.read_text(encoding="utf-8")
        comment = text[text.index("<!--"):text.index("-->")]
        assert "bigbluebutton/bigbluebutton" in comment and ("Changed" in comment or "Unchanged" in comment
                                                             or "invented" in comment), path.name


def test_get_meetings_current_template() -> None:
    meetings = by_id(check_returncode(parse_response(fixture("get_meetings.xml"))).meetings)
    assert list(meetings) == ["gbesu6dht08uobpislzqxsizjzihn87cmewqyacs",
                              "b6a2d4c5e2b1b0a7c1d0e9f8a7b6c5d4e3f2a1b0-1715261900000", "Demo Meeting", "board-1"]
    room = meetings["gbesu6dht08uobpislzqxsizjzihn87cmewqyacs"]
    assert room.name == "Anton G's Room"
    assert room.internal_id == "a0715c95000a2bcb90604ecc7097dbc94592c690-1715261728123"
    assert (room.running, room.is_breakout, room.parent_id) == (True, False, None)
    assert (room.create_time_ms, room.start_time_ms, room.duration_minutes, room.max_users) == (
        1715261728123, 1715261728142, 0, 0)
    assert (room.participants, room.listeners, room.voice, room.video, room.moderators) == (4, 1, 2, 1, 1)
    assert room.metadata == {
        "bbb-origin-version": "summit2024-6d8120x", "bbb-origin-server-name": "test30.bigbluebutton.org",
        "bbb-recording-ready-url": "https://test30.bigbluebutton.org/recording_ready", "bbb-origin": "greenlight",
        "endcallbackurl": "https://test30.bigbluebutton.org/meeting_ended"}
    assert room.breakout_ids == ("b6a2d4c5e2b1b0a7c1d0e9f8a7b6c5d4e3f2a1b0-1715261900000",)

    breakout = meetings["b6a2d4c5e2b1b0a7c1d0e9f8a7b6c5d4e3f2a1b0-1715261900000"]
    assert breakout.is_breakout and breakout.parent_id == room.internal_id
    assert (breakout.participants, breakout.voice, breakout.duration_minutes, breakout.metadata) == (2, 2, 15, {})

    demo = meetings["Demo Meeting"]
    assert (demo.running, demo.participants, demo.started_ms, demo.metadata) == (
        False, 0, 1531241258074, {"tenant": "acme"})

    board = meetings["board-1"]
    assert board.name == "Board & members"
    # <customdata><meetingID> of an attendee is not the meeting's
    assert (board.meeting_id, board.video, board.max_users, board.metadata) == (
        "board-1", 2, 25, {"tenant": "not-a-tenant"})


def test_get_meetings_older_template_nested_breakout_and_cdata() -> None:
    parent, breakout = check_returncode(parse_response(fixture("get_meetings_nested_breakout.xml"))).meetings
    assert not parent.is_breakout
    assert parent.metadata == {"tenant": "acme", "bbb-origin": "Greenlight & co"}  # CDATA values, customdata not
    assert parent.breakout_ids == (breakout.internal_id,)
    assert (parent.participants, parent.listeners, parent.voice, parent.video) == (5, 2, 3, 1)
    # no <isBreakout> in this template: <breakout><parentMeetingID> makes it one
    assert breakout.is_breakout and breakout.parent_id == parent.internal_id
    assert (breakout.participants, breakout.listeners, breakout.voice, breakout.metadata) == (3, 1, 2, {})


def test_no_meetings() -> None:
    result = check_returncode(parse_response(fixture("no_meetings.xml")))
    assert result.meetings == [] and result.message_key == "noMeetings"


class _Replay:
    """An httpx transport answering every call with one fixture."""

    def __init__(self, body: bytes):
        self.body = body

    async def handle_async_request(self, request):
        import httpx

        return httpx.Response(200, content=self.body, headers={"Content-Type": "text/xml"})

    async def aclose(self) -> None:
        return None


def call(body: bytes, method: str, *args):
    async def run():
        async with BbbClient(2, transport=_Replay(body)) as client:
            return await getattr(client, method)(BbbEndpoint("http://bbb.test/bigbluebutton/api", "s"), *args)

    return asyncio.run(run())


def test_get_meeting_info_documented_example() -> None:
    meeting = call(fixture("get_meeting_info.xml"), "get_meeting_info", "gbesu6dht08uobpislzqxsizjzihn87cmewqyacs")
    assert (meeting.meeting_id, meeting.name) == ("gbesu6dht08uobpislzqxsizjzihn87cmewqyacs", "Anton G's Room")
    assert (meeting.participants, meeting.listeners, meeting.voice, meeting.video, meeting.moderators) == (
        1, 0, 1, 1, 1)
    assert meeting.metadata["bbb-origin-server-name"] == "test30.bigbluebutton.org"
    assert "returncode" not in meeting.metadata
    assert meeting.breakout_ids == ("breakout-room-id-1", "breakout-room-id-2", "breakout-room-id-3")
    assert not meeting.is_breakout and meeting.parent_id is None


def test_get_meeting_info_of_a_breakout_documented_nesting() -> None:
    meeting = call(fixture("get_meeting_info_breakout.xml"), "get_meeting_info", "breakout-room-id-1")
    assert meeting.is_breakout
    assert meeting.parent_id == "a0715c95000a2bcb90604ecc7097dbc94592c690-1715261728123"
    assert (meeting.participants, meeting.voice, meeting.metadata) == (2, 2, {})


def test_create_join_running_end_documented_examples() -> None:
    created = call(fixture("create.xml"), "create", "Test", "Test")
    assert created.fields["internalMeetingID"] == "640ab2bae07bedc4c163f679a746f7ab7fb5d1fa-1531155809613"
    assert created.message_key == "duplicateWarning"
    assert call(fixture("is_meeting_running.xml"), "is_meeting_running", "test01") is True
    ended = call(fixture("end.xml"), "end", "test01")
    assert ended.message_key == "sentEndMeetingRequest" and ended.fields["message"].startswith("A request")
    joined = check_returncode(parse_response(fixture("join.xml")))
    assert (joined.message_key, joined.fields["user_id"]) == ("successfullyJoined", "w_euxnssffnsbs")


@pytest.mark.parametrize("name", ["get_meetings.xml", "get_meetings_nested_breakout.xml"])
def test_documented_answers_parse_the_same_in_any_chunks(name: str) -> None:
    body = fixture(name)
    whole = parse_response(body)
    for size in (1, 7, 64, 1000):
        parser = ResponseParser()
        for start in range(0, len(body), size):
            parser.feed(body[start:start + size])
        assert parser.close() == whole


# --- the test server against the documented shape ----------------------------------------

# The meetings of get_meetings.xml as a test server scenario: same order, counts, metadata
# keys (in the same order), one breakout; ids and times are the server's own.
SCENARIO_OF_FIXTURE = {"meetings": [
    {"id": "gbesu6dht08uobpislzqxsizjzihn87cmewqyacs", "name": "Anton G's Room", "participants": 4,
     "listen_only": 1, "voice": 2, "video": 1,
     "metadata": {"bbb-origin-version": "v", "bbb-origin-server-name": "h", "bbb-recording-ready-url": "u",
                  "bbb-origin": "greenlight", "endcallbackurl": "u"},
     "breakouts": [{"id": "room-1", "participants": 2, "voice": 2}]},
    {"id": "Demo Meeting", "participants": 0, "metadata": {"tenant": "acme"}},
    {"id": "board-1", "participants": 2, "voice": 1, "video": 2, "metadata": {"tenant": "not-a-tenant"},
     "customdata": {"meetingID": "not-this-one", "bbb_auto_join_audio": "true"}},
]}


def tag_paths(body: bytes) -> list[str]:
    """Every element's path, in document order, without the stand-in's own marker."""
    root = ElementTree.fromstring(body)  # our own fixtures and test server: trusted input
    paths: list[str] = []

    def walk(element: ElementTree.Element, prefix: str) -> None:
        path = f"{prefix}/{element.tag}"
        paths.append(path)
        for child in element:
            if child.tag != "standin":
                walk(child, path)

    walk(root, "")
    return paths


def test_test_server_get_meetings_has_the_documented_element_tree(bbb: TestServer, endpoint) -> None:
    bbb.seed(SCENARIO_OF_FIXTURE)
    answer = _get(bbb, endpoint, "getMeetings")
    # same elements, same nesting, same order: the server lists meetings in creation order, as seeded
    assert tag_paths(answer) == tag_paths(fixture("get_meetings.xml"))


def test_test_server_get_meeting_info_and_no_meetings_shapes(bbb: TestServer, endpoint) -> None:
    assert tag_paths(_get(bbb, endpoint, "getMeetings")) == tag_paths(fixture("no_meetings.xml"))
    bbb.seed({"meetings": [{"id": "gbesu6dht08uobpislzqxsizjzihn87cmewqyacs", "participants": 1, "video": 1,
                            "metadata": {"bbb-origin-version": "v", "bbb-origin-server-name": "h",
                                         "bbb-recording-ready-url": "u", "bbb-origin": "greenlight",
                                         "endcallbackurl": "u"},
                            "customdata": {}, "breakouts": [{"id": "b1"}, {"id": "b2"}, {"id": "b3"}]}]})
    info = _get(bbb, endpoint, "getMeetingInfo", meetingID="gbesu6dht08uobpislzqxsizjzihn87cmewqyacs")
    assert tag_paths(info) == tag_paths(fixture("get_meeting_info.xml"))


def test_test_server_create_answer_shape(bbb: TestServer, endpoint) -> None:
    _get(bbb, endpoint, "create", name="Test", meetingID="Test")
    again = _get(bbb, endpoint, "create", name="Test", meetingID="Test")
    assert tag_paths(again) == tag_paths(fixture("create.xml"))


def _get(bbb: TestServer, endpoint: BbbEndpoint, call_name: str, **params: str) -> bytes:
    import httpx

    return httpx.get(endpoint.url(call_name, params), timeout=5).content


@pytest.mark.parametrize("name", ["get_meetings.xml", "get_meetings_nested_breakout.xml", "get_meeting_info.xml",
                                  "get_meeting_info_breakout.xml", "no_meetings.xml", "create.xml", "join.xml"])
def test_tree_and_event_parsers_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers are walked as a tree (C builder), or past TREE_LIMIT parsed from events: the same result."""
    from meetfleet.bbb import parsing
    as_tree = parse_response(fixture(name))
    monkeypatch.setattr(parsing, "TREE_LIMIT", -1)
    assert parse_response(fixture(name)) == as_tree
