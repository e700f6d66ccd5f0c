"""Incremental, hardened parsing of BBB API responses.

The response is fed chunk by chunk as it streams in, so a several-MB getMeetings answer
is never held whole, and meetings are built straight from parser events (no element
tree). DTDs and entity declarations are refused before anything is expanded
(defusedxml), and the bytes fed are capped.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from meetfleet.bbb.errors import BbbError, ErrorKind
from meetfleet.bbb.models import CallResult, Meeting

# A busy server's getMeetings is a few MB (notes/bbb-api.md); 32 MB leaves room and
# still bounds what a broken or hostile server can make us read.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class _Malformed(ValueError):
    pass


# BBB's Number type is ASCII digits only (api.md, "API Data Types"); int() alone would also
# take signs, spaces, underscores and non-ASCII digits. 18 digits bound the value.
_MAX_DIGITS = 18


def _int(fields: dict[str, str], key: str) -> int:
    value = fields.get(key, "") or "0"
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS):
        raise _Malformed(f"<{key}> is not a non-negative integer")
    return int(value)


def _bool(fields: dict[str, str], key: str) -> bool:
    return fields.get(key, "false").strip().lower() == "true"


def meeting_from_fields(fields: dict[str, str], metadata: dict[str, str],
                        breakout_ids: tuple[str, ...] | list[str] = ()) -> Meeting:
    if not fields.get("meetingID"):
        raise _Malformed("a meeting has no <meetingID>")
    parent = fields.get("parentMeetingID", "")
    # the older template has no isBreakout: there a parent link is what makes a breakout
    is_breakout = _bool(fields, "isBreakout") if "isBreakout" in fields else parent not in ("", "bbb-none")
    return Meeting(
        meeting_id=fields["meetingID"],
        internal_id=fields.get("internalMeetingID", ""),
        name=fields.get("meetingName", ""),
        running=_bool(fields, "running"),
        create_time_ms=_int(fields, "createTime"),
        start_time_ms=_int(fields, "startTime"),
        duration_minutes=_int(fields, "duration"),
        participants=_int(fields, "participantCount"),
        listeners=_int(fields, "listenerCount"),
        voice=_int(fields, "voiceParticipantCount"),
        video=_int(fields, "videoCount"),
        moderators=_int(fields, "moderatorCount"),
        max_users=_int(fields, "maxUsers"),
        is_breakout=is_breakout,
        # create answers parentMeetingID "bbb-none" for rooms; only a breakout has a parent
        parent_id=(parent or None) if is_breakout else None,
        metadata=metadata,
        breakout_ids=tuple(b for b in breakout_ids if b),
    )


# Elements of a meeting that hold children rather than a value.
_CONTAINERS = frozenset({"attendees", "metadata", "breakout", "breakoutRooms"})
# A breakout's link to its parent. bbb-web's current templates (get-meetings.ftlx,
# get-meeting-info.ftlx under bigbluebutton-web/src/main/webapp/WEB-INF/freemarker/) put
# these straight in the meeting; the API documentation (getMeetingInfo) and the older
# get-meetings template nest them in <breakout>. Both are read.
_BREAKOUT_INFO = frozenset({"parentMeetingID", "sequence", "freeJoin"})


class _MeetingParts:
    """What is kept of one meeting's elements: leaves, metadata, breakout links."""

    __slots__ = ("breakout_ids", "fields", "metadata")

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.metadata: dict[str, str] = {}
        self.breakout_ids: list[str] = []

    def end(self, rel: list[str], text: str) -> None:
        """An element closed at `rel`, its path below the meeting (or the response)."""
        depth = len(rel)
        if depth == 1:
            if rel[0] not in _CONTAINERS:
                self.fields[rel[0]] = text
        elif depth == 2:
            head, tag = rel
            if head == "metadata":
                self.metadata[tag] = text
            elif head == "breakout" and tag in _BREAKOUT_INFO:
                self.fields[tag] = text
            elif head == "breakoutRooms" and tag == "breakout":
                self.breakout_ids.append(text)
        # deeper: attendees/attendee/* (customdata included) and anything unknown is skipped

    def meeting(self) -> Meeting:
        return meeting_from_fields(self.fields, self.metadata, self.breakout_ids)


class _ResponseTarget:
    """Parser target: response leaves and, as a meeting, response/* (getMeetingInfo) or
    each response/meetings/meeting/* (getMeetings)."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.text: list[str] = []
        self.top = _MeetingParts()  # response/*: the call's fields, and getMeetingInfo's meeting
        self.meetings: list[Meeting] = []
        self._meeting = _MeetingParts()

    def start(self, tag: str, _attrib: dict[str, str]) -> None:
        self.path.append(tag)
        self.text.clear()
        depth = len(self.path)
        if depth == 1 and tag != "response":
            raise _Malformed(f"root element is <{tag}>, not <response>")
        if depth == 3 and tag == "meeting" and self.path[1] == "meetings":
            self._meeting = _MeetingParts()

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        path = self.path
        depth = len(path)
        text = "".join(self.text).strip()
        self.text.clear()
        if depth >= 2:
            if path[1] == "meetings":
                if depth == 3 and tag == "meeting":
                    self.meetings.append(self._meeting.meeting())
                elif depth >= 4 and path[2] == "meeting":
                    self._meeting.end(path[3:], text)
            else:
                self.top.end(path[1:], text)
        path.pop()

    def close(self) -> None:
        return None


class ResponseParser:
    """Feed bytes as they arrive; `close()` gives the parsed result or raises BbbError."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.received = 0
        self._target = _ResponseTarget()
        self._parser = DefusedXMLParser(target=self._target, forbid_dtd=True,
                                        forbid_entities=True, forbid_external=True)

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.max_bytes:
            raise BbbError(ErrorKind.TOO_LARGE, f"answer exceeds {self.max_bytes} bytes")
        self._guard(self._parser.feed, chunk)

    def close(self) -> CallResult:
        self._guard(self._parser.close)
        top = self._target.top
        if "returncode" not in top.fields:
            raise BbbError(ErrorKind.MALFORMED, "response has no <returncode>")
        return CallResult(fields=top.fields, metadata=top.metadata, meetings=self._target.meetings,
                          breakout_ids=tuple(top.breakout_ids))

    @staticmethod
    def _guard(call, *args) -> None:
        try:
            call(*args)
        except DefusedXmlException as exc:
            raise BbbError(ErrorKind.HOSTILE, f"refused XML: {type(exc).__name__}") from None
        except ParseError as exc:
            raise BbbError(ErrorKind.MALFORMED, f"not XML: {exc}") from None
        except _Malformed as exc:
            raise BbbError(ErrorKind.MALFORMED, str(exc)) from None


def parse_response(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> CallResult:
    """Parse a whole response (small answers; tests)."""
    parser = ResponseParser(max_bytes)
    parser.feed(body)
    return parser.close()


def check_returncode(result: CallResult) -> CallResult:
    """Raise BbbError for FAILED answers; checksumError gets its own kind."""
    code = result.fields.get("returncode", "")
    if code == "SUCCESS":
        return result
    key = result.fields.get("messageKey", "")
    message = result.fields.get("message", "")[:200]
    if code == "FAILED":
        kind = ErrorKind.CHECKSUM if key == "checksumError" else ErrorKind.FAILED
        raise BbbError(kind, f"FAILED {key}: {message}".rstrip(": "), message_key=key)
    raise BbbError(ErrorKind.MALFORMED, f"unknown returncode {code[:40]!r}")
