"""Hardened, incremental parsing of BBB answers."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meetfleet.bbb.errors import BbbError, ErrorKind
from meetfleet.bbb.parsing import ResponseParser, check_returncode, parse_response
from meetfleet.testing.bbb_standin import GARBAGE_BODY, HOSTILE_BODY

# Shaped like BBB's documented getMeetings answer (attendees and unknown elements included).
GET_MEETINGS = b"""<?xml version="1.0" encoding="UTF-8"?>
<response>
  <returncode>SUCCESS</returncode>
  <meetings>
    <meeting>
      <meetingName>Demo &amp; Co</meetingName>
      <meetingID>room-1</meetingID>
      <internalMeetingID>abc-1</internalMeetingID>
      <createTime>1531241258036</createTime>
      <createDate>Tue Jul 10 16:47:38 UTC 2018</createDate>
      <voiceBridge>70066</voiceBridge>
      <running>true</running>
      <duration>120</duration>
      <hasUserJoined>true</hasUserJoined>
      <startTime>1531241258074</startTime>
      <endTime>0</endTime>
      <participantCount>4</participantCount>
      <listenerCount>1</listenerCount>
      <voiceParticipantCount>2</voiceParticipantCount>
      <videoCount>1</videoCount>
      <maxUsers>20</maxUsers>
      <moderatorCount>1</moderatorCount>
      <attendees>
        <attendee><userID>w_1</userID><fullName>A</fullName><role>MODERATOR</role>
          <isListeningOnly>false</isListeningOnly><hasJoinedVoice>true</hasJoinedVoice>
          <hasVideo>true</hasVideo><clientType>HTML5</clientType>
          <customdata><meetingID>not-this</meetingID></customdata></attendee>
      </attendees>
      <metadata><tenant>acme</tenant><bbb-origin-server-name>rooms.acme.org</bbb-origin-server-name></metadata>
      <isBreakout>false</isBreakout>
      <breakoutRooms><breakout>abc-2</breakout></breakoutRooms>
    </meeting>
    <meeting>
      <meetingName>Breakout 1</meetingName><meetingID>room-1-b1</meetingID>
      <internalMeetingID>abc-2</internalMeetingID><createTime>1531241300000</createTime>
      <running>true</running><participantCount>2</participantCount><listenerCount>0</listenerCount>
      <voiceParticipantCount>2</voiceParticipantCount><videoCount>0</videoCount>
      <isBreakout>true</isBreakout><parentMeetingID>abc-1</parentMeetingID><metadata/>
    </meeting>
  </meetings>
</response>
"""


def test_get_meetings_is_typed_and_complete() -> None:
    result = check_returncode(parse_response(GET_MEETINGS))
    first, breakout = result.meetings
    assert (first.meeting_id, first.internal_id, first.name) == ("room-1", "abc-1", "Demo & Co")
    assert (first.participants, first.listeners, first.voice, first.video, first.moderators) == (4, 1, 2, 1, 1)
    assert (first.create_time_ms, first.start_time_ms, first.duration_minutes, first.max_users) == (
        1531241258036, 1531241258074, 120, 20)
    assert first.running and not first.is_breakout and first.parent_id is None
    assert first.metadata == {"tenant": "acme", "bbb-origin-server-name": "rooms.acme.org"}
    assert breakout.is_breakout and breakout.parent_id == "abc-1" and breakout.participants == 2
    assert breakout.started_ms == 1531241300000  # no startTime: createTime


def test_no_meetings_is_success_with_an_empty_list() -> None:
    body = (b"<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey>"
            b"<message>no meetings were found on this server</message></response>")
    result = check_returncode(parse_response(body))
    assert result.meetings == [] and result.message_key == "noMeetings"


@pytest.mark.parametrize(("key", "kind"), [("checksumError", ErrorKind.CHECKSUM), ("notFound", ErrorKind.FAILED)])
def test_failed_answers_raise_with_their_kind(key: str, kind: ErrorKind) -> None:
    body = f"<response><returncode>FAILED</returncode><messageKey>{key}</messageKey><message>m</message></response>"
    with pytest.raises(BbbError) as err:
        check_returncode(parse_response(body.encode()))
    assert err.value.kind is kind and err.value.message_key == key


@pytest.mark.parametrize("body", [
    GARBAGE_BODY,
    b"",
    b"<response><returncode>SUCCESS</returncode>",  # truncated
    b"<html><body>502 Bad Gateway</body></html>",  # a proxy's page
    b"<response><meetings/></response>",  # no returncode
    b"<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>x</meetingID>"
    b"<participantCount>many</participantCount></meeting></meetings></response>",
    b"<response><returncode>SUCCESS</returncode><meetings><meeting><meetingName>no id</meetingName>"
    b"</meeting></meetings></response>",
    # BBB's Number is ASCII digits: no sign, no separator, no other script's digits, bounded
    *(f"<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>x</meetingID>"
      f"<participantCount>{n}</participantCount></meeting></meetings></response>".encode()
      for n in ("-3", "+3", "1_000", "\u0663", "1" * 19)),
])
def test_malformed_answers_are_malformed(body: bytes) -> None:
    with pytest.raises(BbbError) as err:
        parse_response(body)
    assert err.value.kind is ErrorKind.MALFORMED


@pytest.mark.parametrize("body", [
    HOSTILE_BODY,
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<response><returncode>&x;</returncode></response>",
    b'<!DOCTYPE response SYSTEM "http://127.0.0.1:1/dtd"><response><returncode>SUCCESS</returncode></response>',
])
def test_dtds_and_entities_are_refused_before_expansion(body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(BbbError) as err:
        parse_response(body)
    assert err.value.kind is ErrorKind.HOSTILE
    assert time.perf_counter() - started < 0.5  # refused, not expanded


def test_byte_cap_stops_reading() -> None:
    parser = ResponseParser(max_bytes=1000)
    parser.feed(GET_MEETINGS[:900])
    with pytest.raises(BbbError) as err:
        parser.feed(GET_MEETINGS[900:])
    assert err.value.kind is ErrorKind.TOO_LARGE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(GET_MEETINGS) - 1), max_size=25))
def test_any_chunking_gives_the_same_result(cuts: list[int]) -> None:
    bounds = [0, *sorted(set(cuts)), len(GET_MEETINGS)]
    parser = ResponseParser()
    for start, end in itertools.pairwise(bounds):
        parser.feed(GET_MEETINGS[start:end])
    assert parser.close() == parse_response(GET_MEETINGS)


# --- attendee lists are cut by a lexical scan before expat: nothing inside may end it early ----

def _meeting(attendees: bytes) -> bytes:
    return (b"<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>m</meetingID>"
            b"<participantCount>3</participantCount>" + attendees +
            b"<metadata><tenant>acme</tenant></metadata><videoCount>2</videoCount></meeting></meetings></response>")


@pytest.mark.parametrize("attendees", [
    b"<attendees></attendees>",
    b"<attendees/>",
    b"<attendees />",
    # the older template's CDATA: a user named "</attendees>" is text, not the list's end
    b"<attendees><attendee><fullName><![CDATA[</attendees><videoCount>99</videoCount>]]></fullName>"
    b"</attendee></attendees>",
    # customdata from userdata-attendees: an attendees element inside the list
    b"<attendees><attendee><customdata><attendees>x</attendees></customdata></attendee></attendees>",
    b"<attendees><!-- </attendees> --><?pi </attendees> ?><attendee/></attendees>",
    b"<attendees a=\"x > y\" b='z'><attendee/></attendees>",
    b"<attendees>\n</attendees >",
])
def test_attendee_lists_are_skipped_whatever_they_hold(attendees: bytes) -> None:
    (meeting,) = parse_response(_meeting(attendees)).meetings
    assert (meeting.participants, meeting.video, meeting.metadata) == (3, 2, {"tenant": "acme"})


def test_a_meeting_name_holding_attendees_markup_is_not_a_list(tmp_path) -> None:
    body = _meeting(b"<attendees><attendee/></attendees>").replace(
        b"<meetingID>m</meetingID>", b"<meetingID>m</meetingID><meetingName><![CDATA[<attendees>]]></meetingName>")
    (meeting,) = parse_response(body).meetings
    assert (meeting.name, meeting.video, meeting.metadata) == ("<attendees>", 2, {"tenant": "acme"})


@pytest.mark.parametrize("attendees", [
    b"<attendees><attendee>",  # never closed
    b"<attendees><![CDATA[ never closed </attendees>",
])
def test_broken_attendee_lists_leave_the_answer_malformed(attendees: bytes) -> None:
    with pytest.raises(BbbError) as err:
        parse_response(_meeting(attendees))
    assert err.value.kind is ErrorKind.MALFORMED


def test_what_is_inside_an_attendee_list_is_not_read_nor_checked() -> None:
    # documented: the list is cut unread, so a broken attendee in it does not matter
    (meeting,) = parse_response(_meeting(b"<attendees><attendee><b></attendees>")).meetings
    assert meeting.video == 2


def test_a_dtd_is_refused_even_after_an_attendee_list() -> None:
    body = _meeting(b"<attendees><attendee/></attendees>") + HOSTILE_BODY
    with pytest.raises(BbbError) as err:
        parse_response(body)
    assert err.value.kind in (ErrorKind.HOSTILE, ErrorKind.MALFORMED)  # either way never expanded


@pytest.mark.parametrize("body", [
    HOSTILE_BODY,
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<response><returncode>&x;</returncode></response>",
    b'<!DOCTYPE response SYSTEM "http://127.0.0.1:1/dtd"><response><returncode>SUCCESS</returncode></response>',
])
def test_the_event_parser_for_huge_answers_refuses_dtds_too(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from meetfleet.bbb import parsing
    monkeypatch.setattr(parsing, "TREE_LIMIT", -1)
    with pytest.raises(BbbError) as err:
        parse_response(body)
    assert err.value.kind is ErrorKind.HOSTILE


def test_the_plain_and_the_full_scan_cut_the_same() -> None:
    """An answer without CDATA, comments or PIs (bbb-web's current templates) is cut by a
    plain search for the name; it must cut exactly what the full lexical scan cuts."""
    from meetfleet.bbb import parsing
    from meetfleet.testing.bbb_standin import BbbState, seed, uniform_scenario
    state = BbbState()
    seed(state, uniform_scenario(20, 10, listen_only=2, voice=6, video=2, tenant="acme"))
    nested = b"<attendees><attendee><customdata><attendees>x</attendees></customdata></attendee></attendees>"
    for body in (state.get_meetings({}).encode(), GET_MEETINGS, _meeting(nested), _meeting(b"<attendees />")):
        assert b"<![CDATA[" not in body
        plain = parsing.without_attendees(body)
        original = parsing._next_in_plain
        try:  # the full scan, forced: the same loop over the regex's tokens
            parsing._next_in_plain = parsing._next_in_any
            full = parsing.without_attendees(body)
        finally:
            parsing._next_in_plain = original
        assert plain == full
        assert (len(plain) < len(body)) == (b"<attendee>" in body)


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "unknown returncode ''"),
    ({"returncode": "MAYBE"}, "unknown returncode 'MAYBE'"),
    ({"returncode": "success"}, "unknown returncode 'success'"),  # BBB writes it in capitals
])
def test_a_result_without_a_known_returncode_is_malformed_never_success(fields: dict[str, str],
                                                                         message: str) -> None:
    from meetfleet.bbb.models import CallResult

    with pytest.raises(BbbError) as err:
        check_returncode(CallResult(fields=fields, metadata={}, meetings=[]))
    assert err.value.kind is ErrorKind.MALFORMED
    assert message in str(err.value)
