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


def _int(fields: dict[str, str], key: str) -> int:
    value = fields.get(key, "") or "0"
    try:
        return int(value)
    except ValueError:
        raise _Malformed(f"<{key}> is not an integer") from None


def _bool(fields: dict[str, str], key: str) -> bool:
    return fields.get(key, "false").strip().lower() == "true"


def meeting_from_fields(fields: dict[str, str], metadata: dict[str, str]) -> Meeting:
    if not fields.get("meetingID"):
        raise _Malformed("a meeting has no <meetingID>")
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
        is_breakout=_bool(fields, "isBreakout"),
        parent_id=fields.get("parentMeetingID") or None,
        metadata=metadata,
    )


class _ResponseTarget:
    """Parser target: keeps response/* leaves, response/metadata/*, response/meetings/meeting."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.text: list[str] = []
        self.fields: dict[str, str] = {}
        self.metadata: dict[str, str] = {}
        self.meetings: list[Meeting] = []
        self._meeting: dict[str, str] = {}
        self._meeting_meta: dict[str, str] = {}

    def start(self, tag: str, _attrib: dict[str, str]) -> None:
        self.path.append(tag)
        self.text.clear()
        depth = len(self.path)
        if depth == 1 and tag != "response":
            raise _Malformed(f"root element is <{tag}>, not <response>")
        if depth == 3 and tag == "meeting" and self.path[1] == "meetings":
            self._meeting, self._meeting_meta = {}, {}

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        path = self.path
        depth = len(path)
        text = "".join(self.text).strip()
        self.text.clear()
        if depth == 1:
            pass
        elif depth == 2:
            if tag not in ("meetings", "metadata"):
                self.fields[tag] = text
        elif path[1] == "metadata":
            if depth == 3:
                self.metadata[tag] = text
        elif path[1] == "meetings":
            if depth == 3 and tag == "meeting":
                self.meetings.append(meeting_from_fields(self._meeting, self._meeting_meta))
            elif depth == 4:
                self._meeting[tag] = text
            elif depth == 5 and path[3] == "metadata":
                self._meeting_meta[tag] = text
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
        target = self._target
        if "returncode" not in target.fields:
            raise BbbError(ErrorKind.MALFORMED, "response has no <returncode>")
        return CallResult(fields=target.fields, metadata=target.metadata, meetings=target.meetings)

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
