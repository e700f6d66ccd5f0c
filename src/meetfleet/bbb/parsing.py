"""Hardened parsing of BBB API responses, at a small cost per meeting.

An answer is received whole (bounded by a byte cap), so it can be handed to a worker
process, and parsed in two steps:

1. attendee lists, which the fleet never reads and which are most of a getMeetings
   answer (about 85 % of its bytes at 10 users per meeting), are cut out by a lexical
   scan in C (`re` and `bytes.find`) instead of costing Python callbacks for each of
   their elements: CDATA sections, comments and processing instructions are stepped over
   and nested `<attendees>` (a `userdata-attendees` custom field) counted, so no text a
   user controls can end the cut early;
2. the rest goes to expat directly (no ElementTree layer), handlers building `Meeting`s
   from parser events (no element tree). A DTD, an entity declaration or an external
   reference is refused as soon as expat meets it, before anything is expanded.

The cut only removes bytes: whatever it removes is never interpreted, and what is left is
parsed with the same refusals, so a hostile answer gains nothing by hiding in an
attendee list. Content inside attendee lists is not checked (it is not read).
"""

from __future__ import annotations

import io
import re
from xml.etree.ElementTree import Element, ParseError, XMLParser
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse

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
        self._in_meeting = False  # inside response/meetings/meeting: the fast path below

    def start(self, tag: str, _attrib: dict[str, str]) -> None:
        path = self.path
        path.append(tag)
        self.text.clear()
        depth = len(path)
        if depth == 1 and tag != "response":
            raise _Malformed(f"root element is <{tag}>, not <response>")
        if depth == 3 and tag == "meeting" and path[1] == "meetings":
            self._meeting = _MeetingParts()
            self._in_meeting = True

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        path = self.path
        depth = len(path)
        pieces = self.text
        text = (pieces[0] if len(pieces) == 1 else "".join(pieces)).strip()
        pieces.clear()
        if depth == 4 and self._in_meeting:
            # most elements of an answer: a meeting's own leaves, kept straight away
            if tag not in _CONTAINERS:
                self._meeting.fields[tag] = text
        elif depth >= 2:
            if path[1] == "meetings":
                if depth == 3 and tag == "meeting":
                    self._in_meeting = False
                    self.meetings.append(self._meeting.meeting())
                elif depth >= 4 and path[2] == "meeting":
                    self._meeting.end(path[3:], text)
            else:
                self.top.end(path[1:], text)
        path.pop()


# What matters in a scan for attendee lists: their start and end tags, and the markup
# inside which a "<attendees>" is only text (CDATA, comment, processing instruction).
_MARKUP = re.compile(rb"<(?:/attendees(?=[\s>])|attendees(?=[\s/>])|!\[CDATA\[|!--|\?)")
# The rest of an <attendees ...> start tag: attributes (a quoted value may hold ">"), then "/>" or ">".
_TAG_REST = re.compile(rb"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*+\s*(/?)>""")
_CLOSERS = {b"<![CDATA[": b"]]>", b"<!--": b"-->", b"<?": b"?>"}


_NAME_END = frozenset(b" \t\r\n/>")  # what may follow "<attendees" in a tag
_END_NAME_END = frozenset(b" \t\r\n>")  # ... and "</attendees"


def _next_in_plain(body: bytes, pos: int) -> tuple[int, int, bytes] | None:
    """The next attendees tag in a body with no CDATA, comment or PI: there "<" is always
    markup, so finding the name is enough (two finds per meeting, no regex)."""
    while (i := body.find(b"attendees", pos)) >= 0:
        after = i + 9
        if after < len(body):
            if i >= 1 and body[i - 1] == 0x3C and body[after] in _NAME_END:  # <attendees
                return i - 1, after, b"<attendees"
            if i >= 2 and body[i - 2:i] == b"</" and body[after] in _END_NAME_END:
                return i - 2, after, b"</attendees"
        pos = after
    return None


def _next_in_any(body: bytes, pos: int) -> tuple[int, int, bytes] | None:
    match = _MARKUP.search(body, pos)
    return None if match is None else (match.start(), match.end(), match.group())


def without_attendees(body: bytes) -> bytes:
    """`body` with the content of every <attendees> element removed (the tags stay).

    Anything this scan cannot make sense of (an unclosed list, a broken tag) is left in
    place for expat to judge, so a malformed answer stays malformed.
    """
    if b"<attendees" not in body:
        return body
    after_declaration = body.find(b"?>") + 2 if body.startswith(b"<?xml") else 0
    plain = all(body.find(marker, after_declaration) < 0 for marker in _CLOSERS)
    next_token = _next_in_plain if plain else _next_in_any  # bbb-web's current templates: plain
    kept: list[bytes] = []
    keep_from = cut_from = pos = depth = 0
    while (found := next_token(body, pos)) is not None:
        start, end, token = found
        closer = _CLOSERS.get(token)
        if closer is not None:  # CDATA, comment or PI: nothing in it is markup
            close = body.find(closer, end)
            if close < 0:
                break
            pos = close + len(closer)
        elif token[1:2] == b"/":  # </attendees
            pos = end
            if depth:
                depth -= 1
                if depth == 0:
                    kept.append(body[keep_from:cut_from])
                    keep_from = start
        else:  # <attendees
            rest = _TAG_REST.match(body, end)
            if rest is None:
                pos = end
                continue
            pos = rest.end()
            if rest.group(1):  # <attendees/>: empty
                continue
            if depth == 0:
                cut_from = pos
            depth += 1
    kept.append(body[keep_from:])
    return b"".join(kept)


def _refuse_dtd(*_args: object) -> None:
    raise DTDForbidden(None, None, None)


def _refuse_entity(*_args: object) -> None:
    raise EntitiesForbidden(None, None, None, None, None, None)


def _refuse_external(*_args: object) -> None:
    raise ExternalReferenceForbidden(None, None, None, None)


class ResponseParser:
    """Feed bytes as they arrive (the cap is checked at each chunk); `close()` parses them
    and gives the result or raises BbbError."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.received = 0
        self._chunks: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.max_bytes:
            self._chunks.clear()
            raise BbbError(ErrorKind.TOO_LARGE, f"answer exceeds {self.max_bytes} bytes")
        self._chunks.append(chunk)

    def close(self) -> CallResult:
        body = b"".join(self._chunks)
        self._chunks.clear()
        return parse_response(body, self.max_bytes)


def _expat_parser(target: _ResponseTarget) -> expat.XMLParserType:
    parser = expat.ParserCreate()
    # No DTD, no entity of any kind, nothing fetched: refused where expat meets them,
    # before any expansion (what defusedxml does, without its per-element wrapper).
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.buffer_text = True  # one text callback per text node, not per line or buffer
    parser.StartElementHandler = target.start
    parser.EndElementHandler = target.end
    parser.CharacterDataHandler = target.data
    return parser


# Up to this many "<" left after the cut (any real answer: 100 meetings leave ~5,500), the
# rest is built into a tree by ElementTree's C builder (no Python call per element, half
# the cost of the handlers) and walked; beyond it, only a hostile or absurd answer, by the
# event handlers above, whose memory does not grow with the answer (a tree can be ~25 times
# the bytes of tiny elements).
TREE_LIMIT = 1_000_000


class _RootReached(Exception):
    pass


def _stop_at_root(*_args: object) -> None:
    raise _RootReached


def _check_prolog(body: bytes) -> None:
    """Refuse a DTD (hence any entity declaration) in `body`'s prolog, the only place XML
    allows one; expat stops at the root element's start. The tree builder, which cannot
    refuse them itself, is then given the very bytes checked."""
    guard = expat.ParserCreate()
    guard.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    guard.StartDoctypeDeclHandler = _refuse_dtd
    guard.EntityDeclHandler = _refuse_entity
    guard.UnparsedEntityDeclHandler = _refuse_entity
    guard.ExternalEntityRefHandler = _refuse_external
    guard.StartElementHandler = _stop_at_root
    try:
        guard.Parse(body, True)
    except _RootReached:
        return


def _text(element: Element) -> str:
    # what the event handlers keep: a leaf's text, else the text after its last child
    text = element.text if len(element) == 0 else element[-1].tail
    return text.strip() if text else ""


def _walk(parts: _MeetingParts, element: Element) -> None:
    """Feed `parts` the leaves and containers below `element`, as the handlers do."""
    fields = parts.fields
    for child in element:
        tag = child.tag
        if tag in _CONTAINERS:
            for sub in child:
                parts.end([tag, sub.tag], _text(sub))
        elif len(child) == 0:  # a leaf, nearly every element left: its text, inline
            text = child.text
            fields[tag] = text.strip() if text else ""
        else:
            fields[tag] = _text(child)


def _from_tree(body: bytes) -> tuple[_MeetingParts, list[Meeting]]:
    _check_prolog(body)
    builder = XMLParser()  # noqa: S314 - its input was just checked: no DTD, so no entity declared
    builder.feed(body)
    root = builder.close()
    if root.tag != "response":
        raise _Malformed(f"root element is <{root.tag}>, not <response>")
    top, meetings = _MeetingParts(), []
    for child in root:
        if child.tag == "meetings":
            for element in child:
                if element.tag == "meeting":
                    parts = _MeetingParts()
                    _walk(parts, element)
                    meetings.append(parts.meeting())
        elif child.tag in _CONTAINERS:
            for sub in child:
                top.end([child.tag, sub.tag], _text(sub))
        else:
            top.fields[child.tag] = _text(child)
    return top, meetings


def _from_events(body: bytes) -> tuple[_MeetingParts, list[Meeting]]:
    target = _ResponseTarget()
    _expat_parser(target).Parse(body, True)
    return target.top, target.meetings


def parse_response(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> CallResult:
    """Parse a whole response of at most `max_bytes`; raises BbbError for any problem."""
    if len(body) > max_bytes:
        raise BbbError(ErrorKind.TOO_LARGE, f"answer exceeds {max_bytes} bytes")
    rest = without_attendees(body)
    try:
        top, meetings = (_from_tree if rest.count(b"<") <= TREE_LIMIT else _from_events)(rest)
    except DefusedXmlException as exc:
        raise BbbError(ErrorKind.HOSTILE, f"refused XML: {type(exc).__name__}") from None
    except (expat.ExpatError, ParseError) as exc:
        code = getattr(exc, "code", None)
        reason = expat.errors.messages[code] if isinstance(code, int) and code in expat.errors.messages else "error"
        line, column = getattr(exc, "position", None) or (getattr(exc, "lineno", 0), getattr(exc, "offset", 0))
        raise BbbError(ErrorKind.MALFORMED, f"not XML: {reason}: line {line}, column {column}") from None
    except _Malformed as exc:
        raise BbbError(ErrorKind.MALFORMED, str(exc)) from None
    if "returncode" not in top.fields:
        raise BbbError(ErrorKind.MALFORMED, "response has no <returncode>")
    return CallResult(fields=top.fields, metadata=top.metadata, meetings=meetings,
                      breakout_ids=tuple(top.breakout_ids))


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


# --- getRecordings ----------------------------------------------------------------------------
#
# A recording is passed on as BBB wrote it (its playback formats, preview images and their
# attributes), so it is kept as an element rather than as typed fields. The answer is read
# with defusedxml's iterparse (DTD, entities and external references refused as met), and
# each response/recordings/recording is judged by `keep` as soon as it is complete: one that
# is not kept is removed from the tree at once, so a server's other recordings never pile up.


class RecordingsResult:
    """getRecordings' top-level fields and the recordings `keep` accepted, in answer order."""

    __slots__ = ("fields", "recordings", "seen")

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.recordings: list[Element] = []
        self.seen = 0  # every recording of the answer, kept or not

    @property
    def message_key(self) -> str:
        return self.fields.get("messageKey", "")


def parse_recordings(body: bytes, keep=None, max_bytes: int = DEFAULT_MAX_BYTES) -> RecordingsResult:
    """Parse a getRecordings answer; `keep(recording_element) -> bool` (default: all).

    Raises BbbError (hostile, malformed, too_large) as parse_response does."""
    if len(body) > max_bytes:
        raise BbbError(ErrorKind.TOO_LARGE, f"answer exceeds {max_bytes} bytes")
    result = RecordingsResult()
    stack: list[Element] = []
    try:
        for event, element in iterparse(io.BytesIO(body), events=("start", "end"),
                                        forbid_dtd=True, forbid_entities=True, forbid_external=True):
            if event == "start":
                if not stack and element.tag != "response":
                    raise _Malformed(f"root element is <{element.tag}>, not <response>")
                stack.append(element)
                continue
            stack.pop()
            depth = len(stack)  # of the element that just ended: 0 is the response
            if depth == 1 and element.tag != "recordings":
                result.fields[element.tag] = _text(element)
            elif depth == 2 and stack[1].tag == "recordings" and element.tag == "recording":
                result.seen += 1
                if keep is None or keep(element):
                    result.recordings.append(element)
                else:
                    stack[1].remove(element)
    except DefusedXmlException as exc:
        raise BbbError(ErrorKind.HOSTILE, f"refused XML: {type(exc).__name__}") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise BbbError(ErrorKind.MALFORMED, f"not XML: line {line}, column {column}") from None
    except _Malformed as exc:
        raise BbbError(ErrorKind.MALFORMED, str(exc)) from None
    if "returncode" not in result.fields:
        raise BbbError(ErrorKind.MALFORMED, "response has no <returncode>")
    return result
