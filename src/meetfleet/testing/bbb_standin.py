"""BBB API test server: a STAND-IN for BigBlueButton's API, not BigBlueButton.

It answers create, join, end, getMeetings, getMeetingInfo and isMeetingRunning, and the
recording calls getRecordings, publishRecordings, deleteRecordings, updateRecordings,
getRecordingTextTracks and putRecordingTextTrack (a POST), under /bigbluebutton/api/ with
BBB's checksum rules and response shapes, so the fleet's client, exporter and lab can be tested where BBB itself cannot
run. It holds meetings in memory (seeded from options or a JSON scenario), honours
maxParticipants, duration and meta_ tags, leaves a published recording when a meeting
created with record=true ends, and can be made slow, failing or hostile. Every answer
carries a <standin> element (the text tracks' JSON excepted) and an X-Standin
header saying what it is. Nothing in production depends on it.

Standard library only: it is copied to lab containers that have nothing but Debian's
python3, and runs as `python3 bbb_standin.py ...` as well as
`python3 -m meetfleet.testing.bbb_standin ...`. So it checks checksums with its own few
lines instead of importing meetfleet.bbb.checksum, which also means the client's
signing is checked against an independent implementation.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import random
import re
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

STANDIN = "meetfleet BBB API test server, not BigBlueButton"
API_PREFIX = "/bigbluebutton/api"
ALGORITHM_BY_HEX_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
FAULTS = ("fail", "garbage", "hostile", "wrong-checksum")
# putRecordingTextTrack's upload: the API reference leaves the limit open ("maybe 8MB?").
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
# A language tag's shape (RFC 5646: a primary subtag, then subtags of up to 8 characters).
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
TEXT_TRACK_KINDS = ("subtitles", "captions")

# A "billion laughs" document: what the hostile fault answers. A safe client refuses it.
HOSTILE_BODY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<response><returncode>SUCCESS</returncode><meetings>&lol9;</meetings></response>"
)
GARBAGE_BODY = b"<<<this is not XML \x00\xff at all>>>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


# bbb-web renders its answers with FreeMarker's XML output format (auto_esc), which escapes
# quotes too; CDATA is only in its older templates.
_QUOTES = {'"': "&quot;", "'": "&apos;"}
# metadata and customdata keys become element names (as in bbb-web); anything that is not
# a plain XML name would make the answer unparsable, so the stand-in drops it.
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


def _leaves(pairs: list[tuple[str, object]]) -> str:
    return "".join(f"<{k}>{escape(str(v), _QUOTES)}</{k}>" for k, v in pairs)


def _named(items: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in items.items() if _XML_NAME.fullmatch(k) and not k.lower().startswith("xml")]


def _password(meeting_id: str, role: str) -> str:
    """bbb-web makes up 8-character passwords when create gives none; the stand-in derives its own."""
    return hashlib.sha256(f"{role}:{meeting_id}".encode()).hexdigest()[:8]


@dataclass
class Attendee:
    user_id: str
    full_name: str
    role: str = "VIEWER"  # or MODERATOR
    listen_only: bool = False
    voice: bool = False
    video: bool = False
    customdata: dict[str, str] | None = None  # join's userdata-*; None: no <customdata> at all

    def xml(self) -> str:
        """As bbb-web's get-meetings.ftlx: <customdata> only for a user who has custom data."""
        custom = "" if self.customdata is None else f"<customdata>{_leaves(_named(self.customdata))}</customdata>"
        return "<attendee>" + _leaves([
            ("userID", self.user_id), ("fullName", self.full_name), ("role", self.role),
            ("isPresenter", _bool(self.role == "MODERATOR")),
            ("isListeningOnly", _bool(self.listen_only)), ("hasJoinedVoice", _bool(self.voice)),
            ("hasVideo", _bool(self.video)), ("clientType", "HTML5"),
        ]) + custom + "</attendee>"


@dataclass
class StandinMeeting:
    meeting_id: str
    name: str
    create_time_ms: int
    internal_id: str = ""
    voice_bridge: int = 70000
    duration: int = 0  # minutes, 0 = no limit
    max_participants: int = 0  # 0 = no limit
    metadata: dict[str, str] = field(default_factory=dict)
    attendees: list[Attendee] = field(default_factory=list)
    is_breakout: bool = False
    parent_internal_id: str = ""
    sequence: int = 0
    start_time_ms: int = 0
    breakout_ids: list[str] = field(default_factory=list)  # internal ids of its breakouts
    attendee_pw: str = ""
    moderator_pw: str = ""
    record: bool = False  # create's record=true: its end leaves a recording
    most_participants: int = 0

    def __post_init__(self) -> None:
        if not self.internal_id:
            digest = hashlib.sha1(self.meeting_id.encode(), usedforsecurity=False).hexdigest()
            self.internal_id = f"{digest}-{self.create_time_ms}"
        self.attendee_pw = self.attendee_pw or _password(self.meeting_id, "attendee")
        self.moderator_pw = self.moderator_pw or _password(self.meeting_id, "moderator")

    def create_date(self) -> str:
        return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(self.create_time_ms / 1000))

    def fields(self) -> list[tuple[str, object]]:
        people = self.attendees
        joined = bool(people) or self.start_time_ms > 0
        return [
            ("meetingName", self.name), ("meetingID", self.meeting_id), ("internalMeetingID", self.internal_id),
            ("createTime", self.create_time_ms), ("createDate", self.create_date()),
            ("voiceBridge", self.voice_bridge), ("dialNumber", "613-555-1234"),
            ("attendeePW", self.attendee_pw), ("moderatorPW", self.moderator_pw),
            ("running", _bool(bool(people))), ("duration", self.duration), ("hasUserJoined", _bool(joined)),
            ("recording", "false"), ("hasBeenForciblyEnded", "false"),
            ("startTime", self.start_time_ms), ("endTime", 0),
            ("participantCount", len(people)),
            ("listenerCount", sum(a.listen_only for a in people)),
            ("voiceParticipantCount", sum(a.voice for a in people)),
            ("videoCount", sum(a.video for a in people)),
            ("maxUsers", self.max_participants),
            ("moderatorCount", sum(a.role == "MODERATOR" for a in people)),
        ]

    def xml_body(self) -> str:
        """The meeting's elements, as inside <meeting> (getMeetings) or <response> (getMeetingInfo).

        Order and nesting of bbb-web's templates (bigbluebutton-web/src/main/webapp/WEB-INF/
        freemarker/get-meetings.ftlx, get-meeting-info.ftlx): leaves, attendees, metadata,
        isBreakout, a breakout's parentMeetingID/sequence/freeJoin, a parent's breakoutRooms.
        """
        parts = [_leaves(self.fields())]
        parts.append("<attendees>" + "".join(a.xml() for a in self.attendees) + "</attendees>")
        parts.append("<metadata>" + _leaves(_named(self.metadata)) + "</metadata>")
        parts.append(_leaves([("isBreakout", _bool(self.is_breakout))]))
        if self.is_breakout:
            parts.append(_leaves([("parentMeetingID", self.parent_internal_id), ("sequence", self.sequence),
                                  ("freeJoin", "false")]))
        if self.breakout_ids:
            parts.append("<breakoutRooms>" + _leaves([("breakout", b) for b in self.breakout_ids])
                         + "</breakoutRooms>")
        return "".join(parts)


def make_attendees(meeting_id: str, participants: int, *, moderators: int = 1, listen_only: int = 0,
                   voice: int | None = None, video: int = 0) -> list[Attendee]:
    """`participants` attendees: the first `listen_only` listen only, the next `voice` on two-way
    audio (default: all the others), the last `video` with a camera, the first `moderators` moderators."""
    voice = participants - listen_only if voice is None else voice
    problems = []
    if min(participants, moderators, listen_only, voice, video) < 0:
        problems.append("counts must not be negative")
    if listen_only + voice > participants:
        problems.append(f"listen_only ({listen_only}) + voice ({voice}) exceed participants ({participants})")
    if video > participants or moderators > participants:
        problems.append(f"video ({video}) and moderators ({moderators}) cannot exceed participants ({participants})")
    if problems:
        raise ValueError(f"meeting {meeting_id!r}: " + "; ".join(problems))
    return [
        Attendee(
            user_id=f"w_{meeting_id}_{i}", full_name=f"Participant {i + 1}",
            role="MODERATOR" if i < moderators else "VIEWER",
            listen_only=i < listen_only, voice=listen_only <= i < listen_only + voice,
            video=i >= participants - video,
        )
        for i in range(participants)
    ]


@dataclass
class StandinRecording:
    """A recording as getRecordings lists it: the elements and order of the documented
    example response (docs/docs/development/api.md in bigbluebutton/bigbluebutton,
    "getRecordings"), one `presentation` playback format without a preview."""

    record_id: str  # bbb-web's recordID is the meeting's internalMeetingID
    meeting_id: str
    name: str
    start_time_ms: int
    end_time_ms: int
    participants: int = 0
    is_breakout: bool = False
    published: bool = True
    state: str = "published"  # processing|processed|published|unpublished|deleted
    metadata: dict[str, str] = field(default_factory=dict)  # the meeting's meta_* (lower-cased keys)
    playback_host: str = "https://bbb.standin.invalid"
    # getRecordingTextTracks' tracks: {"kind", "lang", "label", "source"} (href is made up)
    tracks: list[dict[str, str]] = field(default_factory=list)
    uploads: dict[tuple[str, str], bytes] = field(default_factory=dict)  # putRecordingTextTrack's files

    def xml(self) -> str:
        # as in the example, bbb-web adds the meeting's name, its meetingId and isBreakout to the metadata
        metadata = {"isBreakout": _bool(self.is_breakout), "meetingName": self.name, **self.metadata,
                    "meetingId": self.meeting_id}
        url = f"{self.playback_host}/playback/presentation/2.3/{self.record_id}"
        length = max((self.end_time_ms - self.start_time_ms) // 60_000, 0)
        return "<recording>" + _leaves([
            ("recordID", self.record_id), ("meetingID", self.meeting_id), ("internalMeetingID", self.record_id),
            ("name", self.name), ("isBreakout", _bool(self.is_breakout)), ("published", _bool(self.published)),
            ("state", self.state), ("startTime", self.start_time_ms), ("endTime", self.end_time_ms),
            ("participants", self.participants),
        ]) + "<metadata>" + _leaves(_named(metadata)) + "</metadata>" + "<playback><format>" + _leaves([
            ("type", "presentation"), ("url", url), ("processingTime", 0), ("length", length),
        ]) + "</format></playback></recording>"


class Response:
    """An API answer: the XML fields after <returncode>, or raw bytes for injected faults."""

    def __init__(self, returncode: str = "SUCCESS", body: str = "", raw: bytes | None = None):
        self.raw = raw
        self.text = (f"<response><returncode>{returncode}</returncode>{body}"
                     f"<standin>{STANDIN}</standin></response>")

    def encode(self) -> bytes:
        return self.raw if self.raw is not None else self.text.encode("utf-8")


class JsonResponse:
    """A JSON answer (getRecordingTextTracks answers JSON, not XML)."""

    content_type = "application/json"

    def __init__(self, response: dict):
        self.response = response

    def encode(self) -> bytes:
        return json.dumps({"response": self.response}).encode("utf-8")


def failed(key: str, message: str) -> Response:
    return Response("FAILED", _leaves([("messageKey", key), ("message", message)]))


# --- synthetic load (lab) ------------------------------------------------------------------
#
# Meetings that come and go over each tenant's local day, as a deterministic function of
# the wall-clock time and a seed: every poll of every process sees the same meetings.
# Each tenant has "lanes" (at most its plan's rooms); a lane's day runs from local 04:00
# (the quietest hour) to the next, in 15-minute blocks: at each free block a meeting
# starts with a probability following an office-hours curve, lasts 30 to 120 minutes
# (never past the plan's limit nor the next 04:00), and holds a fixed set of people. The
# lanes' sizes are chosen so that rooms and users stay below the plan's caps by construction.

SYNTHETIC_BLOCK = 15 * 60  # seconds
SYNTHETIC_DAY_STARTS = 4  # local hour the lanes start afresh
SYNTHETIC_SHARE = 0.8  # of the plan's users the lanes can hold at most
SYNTHETIC_TENANT_KEYS = frozenset({"name", "timezone", "utc_offset_minutes", "max_concurrent_users",
                                   "max_rooms", "max_meeting_minutes"})
# local hour -> share of lanes starting meetings, on a weekday (weekends: WEEKEND_FACTOR)
OFFICE_CURVE = ((0, 0.0), (6, 0.0), (8, 0.5), (9, 1.0), (12, 1.0), (13, 0.6), (14, 1.0), (17, 0.8),
                (19, 0.3), (22, 0.05), (23, 0.0), (24, 0.0))
WEEKEND_FACTOR = 0.2


def office_curve(local: datetime) -> float:
    """0..1: how busy a cooperative's rooms are at this local time (weekdays higher)."""
    hour = local.hour + local.minute / 60
    for (h0, v0), (h1, v1) in itertools.pairwise(OFFICE_CURVE):
        if h0 <= hour < h1:
            value = v0 + (v1 - v0) * (hour - h0) / (h1 - h0)
            break
    else:
        value = 0.0
    return value * (WEEKEND_FACTOR if local.weekday() >= 5 else 1.0)


@dataclass(frozen=True)
class SyntheticTenant:
    name: str
    zone: tzinfo
    max_users: int
    max_rooms: int
    max_minutes: int

    def lanes(self) -> tuple[int, int]:
        """(lanes, most people per lane) with lanes * people <= SYNTHETIC_SHARE * max_users."""
        budget = int(self.max_users * SYNTHETIC_SHARE)
        lanes = min(self.max_rooms, budget // 2, 50)
        if lanes <= 0:
            return (1, budget) if budget > 0 and self.max_rooms > 0 else (0, 0)
        return lanes, budget // lanes


@dataclass(frozen=True)
class SyntheticMeeting:
    tenant: str
    meeting_id: str
    start: float  # epoch seconds
    end: float
    participants: int
    listen_only: int
    voice: int
    video: int
    duration_minutes: int


def _zone(spec: dict) -> tzinfo:
    name = str(spec.get("timezone") or "UTC")
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # no tzdata on the host, or an unknown name
        if "utc_offset_minutes" in spec:
            return timezone(timedelta(minutes=int(spec["utc_offset_minutes"])))
        if name == "UTC":
            return UTC
        raise ValueError(f"tenant {spec.get('name')!r}: unknown time zone {name!r} "
                         "(install tzdata, or give utc_offset_minutes)") from None


class SyntheticLoad:
    """The synthetic meetings running at a given time; see the comment above."""

    def __init__(self, tenants: list[SyntheticTenant], seed: str = "0", scale: float = 1.0):
        self.tenants, self.seed, self.scale = tenants, seed, scale
        self._days: dict[tuple[str, float], list[SyntheticMeeting]] = {}

    @classmethod
    def from_config(cls, config: dict) -> SyntheticLoad:
        if not isinstance(config, dict) or not isinstance(config.get("tenants", []), list):
            raise ValueError('synthetic load: expected {"seed": ..., "scale": ..., "tenants": [...]}')
        unknown = set(config) - {"seed", "scale", "tenants"}
        if unknown:
            raise ValueError(f"synthetic load: unknown keys {', '.join(sorted(unknown))}")
        scale = float(config.get("scale", 1.0))
        if not 0 <= scale <= 10:
            raise ValueError(f"synthetic load: scale {scale} is not between 0 and 10")
        tenants = []
        for spec in config.get("tenants", []):
            if not isinstance(spec, dict) or not spec.get("name"):
                raise ValueError(f"synthetic load: a tenant must be an object with a name (got {spec!r:.80})")
            unknown = set(spec) - SYNTHETIC_TENANT_KEYS
            if unknown:
                raise ValueError(f"synthetic load: tenant {spec['name']!r}: unknown keys {', '.join(sorted(unknown))}")
            numbers = [int(spec.get(k, 0)) for k in ("max_concurrent_users", "max_rooms", "max_meeting_minutes")]
            if min(numbers) < 0:
                raise ValueError(f"synthetic load: tenant {spec['name']!r}: plan caps must not be negative")
            tenants.append(SyntheticTenant(str(spec["name"]), _zone(spec), *numbers))
        return cls(tenants, str(config.get("seed", "0")), scale)

    def active(self, now: float) -> list[SyntheticMeeting]:
        running = []
        for tenant in self.tenants:
            running += [m for m in self._day(tenant, now) if m.start <= now < m.end]
        return running

    def _day(self, tenant: SyntheticTenant, now: float) -> list[SyntheticMeeting]:
        local = datetime.fromtimestamp(now, tenant.zone)
        anchor = local.replace(hour=SYNTHETIC_DAY_STARTS, minute=0, second=0, microsecond=0)
        if anchor > local:
            anchor -= timedelta(days=1)
        # wall-clock arithmetic, then back to epoch: a DST day is 23 or 25 hours long
        start = anchor.timestamp()
        end = datetime.combine(anchor.date() + timedelta(days=1), anchor.timetz()).timestamp()
        key = (tenant.name, start)
        if key not in self._days:
            if len(self._days) > 4 * max(len(self.tenants), 1):
                self._days.clear()
            self._days[key] = self._simulate(tenant, start, end)
        return self._days[key]

    def _simulate(self, tenant: SyntheticTenant, day_start: float, day_end: float) -> list[SyntheticMeeting]:
        lanes, per_lane = tenant.lanes()
        longest = min(120, tenant.max_minutes) if tenant.max_minutes else 120
        meetings = []
        for lane in range(lanes):
            # str seeds are hashed with sha512 by random: the same in every process
            rng = random.Random(f"{self.seed}/{tenant.name}/{int(day_start)}/{lane}")  # noqa: S311 - load, not secrets
            t = day_start
            while t < day_end:
                draw = rng.random()
                busy = min(1.0, 0.5 * self.scale * office_curve(datetime.fromtimestamp(t, tenant.zone)))
                if draw >= busy or longest < 15:
                    t += SYNTHETIC_BLOCK
                    continue
                minutes = min(rng.randint(2, 8) * 15, longest)
                start = t + rng.randint(0, 300)
                end = min(t + minutes * 60, day_end)
                people = rng.randint(min(2, per_lane), per_lane)
                video = int(people * rng.uniform(0, 0.5))
                listen = int(people * rng.uniform(0, 0.3))
                meetings.append(SyntheticMeeting(
                    tenant=tenant.name, meeting_id=f"synthetic-{tenant.name}-{int(day_start)}-{lane}-{len(meetings)}",
                    start=start, end=end, participants=people, listen_only=listen, voice=people - listen,
                    video=video, duration_minutes=tenant.max_minutes))
                t = end + (-(end - day_start) % SYNTHETIC_BLOCK)  # the next whole block
        return meetings


def synthetic_standin_meetings(load: SyntheticLoad, now: float) -> list[StandinMeeting]:
    """The running synthetic meetings as the stand-in lists them, tagged as a gateway would."""
    result = []
    for number, m in enumerate(load.active(now)):
        meeting = StandinMeeting(
            meeting_id=m.meeting_id, name=f"{m.tenant} room", create_time_ms=int(m.start * 1000),
            voice_bridge=80000 + number, duration=m.duration_minutes, metadata={"tenant": m.tenant},
            attendees=make_attendees(m.meeting_id, m.participants, listen_only=m.listen_only, voice=m.voice,
                                     video=m.video),
            start_time_ms=int(m.start * 1000) + 10_000,
        )
        result.append(meeting)
    return result



class BbbState:
    """The meetings and how calls change them. Thread-safe; `clock` returns epoch seconds."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.lock = threading.Lock()
        self.meetings: dict[str, StandinMeeting] = {}
        self.synthetic: SyntheticLoad | None = None  # beside the meetings created or seeded
        self.recordings: dict[str, StandinRecording] = {}  # by recordID, in the order they were made
        self._next_bridge = 70000
        self._version = 0
        self._cached: tuple[tuple, bytes] | None = None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _changed(self) -> None:
        self._version += 1

    def _expire(self) -> None:
        """End meetings whose duration has run out, as BBB does."""
        now = self._now_ms()
        expired = [m for m in self.meetings.values()
                   if m.duration > 0 and now >= (m.start_time_ms or m.create_time_ms) + m.duration * 60_000]
        for meeting in expired:
            self._remove(meeting)

    def _remove(self, meeting: StandinMeeting) -> None:
        if meeting.record and meeting.meeting_id in self.meetings:
            # as BBB once its recording is processed (at once here): published
            self.recordings[meeting.internal_id] = StandinRecording(
                record_id=meeting.internal_id, meeting_id=meeting.meeting_id, name=meeting.name,
                start_time_ms=meeting.start_time_ms or meeting.create_time_ms, end_time_ms=self._now_ms(),
                participants=max(meeting.most_participants, len(meeting.attendees)),
                is_breakout=meeting.is_breakout, metadata=dict(meeting.metadata))
        self.meetings.pop(meeting.meeting_id, None)
        for other in list(self.meetings.values()):
            if other.is_breakout and other.parent_internal_id == meeting.internal_id:
                self.meetings.pop(other.meeting_id, None)
        self._changed()

    def _by_internal_id(self, internal_id: str) -> StandinMeeting | None:
        return next((m for m in self.meetings.values() if m.internal_id == internal_id), None)

    def add(self, meeting: StandinMeeting) -> StandinMeeting:
        with self.lock:
            self._add(meeting)
        return meeting

    def _add(self, meeting: StandinMeeting) -> None:
        meeting.voice_bridge = self._next_bridge
        self._next_bridge += 1
        if meeting.attendees and not meeting.start_time_ms:
            meeting.start_time_ms = meeting.create_time_ms
        self.meetings[meeting.meeting_id] = meeting
        if meeting.is_breakout:
            parent = self._by_internal_id(meeting.parent_internal_id)
            if parent is not None and meeting.internal_id not in parent.breakout_ids:
                parent.breakout_ids.append(meeting.internal_id)
        self._changed()

    def clear(self) -> None:
        with self.lock:
            self.meetings.clear()
            self._changed()

    def add_recording(self, recording: StandinRecording) -> StandinRecording:
        with self.lock:
            self.recordings[recording.record_id] = recording
        return recording

    # --- calls ---------------------------------------------------------------------

    def create(self, params: dict[str, str]) -> Response:
        meeting_id = params.get("meetingID", "")
        if not meeting_id:
            return failed("missingParamMeetingID", "You must specify a meeting ID for the meeting.")
        if not 2 <= len(meeting_id) <= 256 or "," in meeting_id:
            return failed("invalidMeetingIdentifier", "Meeting ID must be 2 to 256 characters, without commas.")
        if not params.get("name"):
            return failed("missingParamName", "You must specify a name for the meeting.")
        with self.lock:
            self._expire()
            existing = self.meetings.get(meeting_id)
            if existing is not None:
                return self._create_answer(existing, "duplicateWarning",
                                           "This conference was already in existence and may currently be in "
                                           "progress.")
            meeting = StandinMeeting(
                meeting_id=meeting_id, name=params["name"], create_time_ms=self._now_ms(),
                duration=_int_param(params, "duration"), max_participants=_int_param(params, "maxParticipants"),
                metadata={k[5:].lower(): v for k, v in params.items() if k.startswith("meta_") and len(k) > 5},
                is_breakout=params.get("isBreakout") == "true",
                parent_internal_id=params.get("parentMeetingID", ""),
                sequence=_int_param(params, "sequence"),
                attendee_pw=params.get("attendeePW", ""), moderator_pw=params.get("moderatorPW", ""),
                record=params.get("record") == "true",
            )
            if meeting.is_breakout and self._by_internal_id(meeting.parent_internal_id) is None:
                return failed("parentMeetingDoesNotExist", "No parent meeting exists for the breakout room.")
            self._add(meeting)
            return self._create_answer(meeting, "", "")

    def _create_answer(self, meeting: StandinMeeting, key: str, message: str) -> Response:
        """As create-meeting.ftlx and the documented create example."""
        return Response(body=_leaves([
            ("meetingID", meeting.meeting_id), ("internalMeetingID", meeting.internal_id),
            ("parentMeetingID", meeting.parent_internal_id or "bbb-none"),
            ("attendeePW", meeting.attendee_pw), ("moderatorPW", meeting.moderator_pw),
            ("createTime", meeting.create_time_ms), ("voiceBridge", meeting.voice_bridge),
            ("dialNumber", "613-555-1234"), ("createDate", meeting.create_date()),
            ("hasUserJoined", _bool(bool(meeting.attendees))),
            ("duration", meeting.duration), ("hasBeenForciblyEnded", "false"),
            ("messageKey", key), ("message", message),
        ]))

    def join(self, params: dict[str, str]) -> Response:
        """Adds the attendee at once (a real join redirects a browser to the client).

        Stand-in extras choose the attendee's media: standin_audio=listen|voice, standin_video=true.
        """
        if not params.get("fullName"):
            return failed("missingParamFullName", "You must specify a name for the attendee who will be joining.")
        with self.lock:
            self._expire()
            meeting = self.meetings.get(params.get("meetingID", ""))
            if meeting is None:
                return failed("invalidMeetingIdentifier", "The meeting ID that you supplied did not match any "
                                                          "existing meetings")
            if meeting.max_participants and len(meeting.attendees) >= meeting.max_participants:
                return failed("maxParticipantsReached", "The number of participants allowed for this meeting "
                                                        "has been reached.")
            role = params.get("role", "VIEWER").upper()
            audio = params.get("standin_audio", "")
            attendee = Attendee(
                user_id=params.get("userID") or f"w_{uuid.uuid4().hex[:12]}", full_name=params["fullName"],
                role="MODERATOR" if role == "MODERATOR" else "VIEWER",
                listen_only=audio == "listen", voice=audio == "voice", video=params.get("standin_video") == "true",
                customdata={k[len("userdata-"):]: v for k, v in params.items() if k.startswith("userdata-")} or None,
            )
            meeting.attendees.append(attendee)
            meeting.most_participants = max(meeting.most_participants, len(meeting.attendees))
            if not meeting.start_time_ms:
                meeting.start_time_ms = self._now_ms()
            self._changed()
            token = uuid.uuid4().hex[:16]
            return Response(body=_leaves([
                ("messageKey", "successfullyJoined"), ("message", "You have joined successfully."),
                ("meeting_id", meeting.internal_id), ("user_id", attendee.user_id),
                ("auth_token", token), ("session_token", token),
                ("url", f"/html5client/join?sessionToken={token}"),
            ]))

    def end(self, params: dict[str, str]) -> Response:
        with self.lock:
            self._expire()
            meeting = self.meetings.get(params.get("meetingID", ""))
            if meeting is None:
                return failed("notFound", "We could not find a meeting with that meeting ID - perhaps the meeting "
                                          "is not yet running?")
            self._remove(meeting)
        return Response(body=_leaves([
            ("messageKey", "sentEndMeetingRequest"),
            ("message", "A request to end the meeting was sent.  Please wait a few seconds, and then use the "
                        "getMeetingInfo or isMeetingRunning API calls to verify that it was ended."),
        ]))

    def _synthetic(self) -> list[StandinMeeting]:
        return [] if self.synthetic is None else synthetic_standin_meetings(self.synthetic, self.clock())

    def _find(self, meeting_id: str) -> StandinMeeting | None:
        """A created or seeded meeting, else a running synthetic one."""
        found = self.meetings.get(meeting_id)
        if found is None and self.synthetic is not None and meeting_id.startswith("synthetic-"):
            found = next((m for m in self._synthetic() if m.meeting_id == meeting_id), None)
        return found

    def get_meetings(self, _params: dict[str, str]) -> Response:
        with self.lock:
            self._expire()
            synthetic = self._synthetic()
            key = (self._version, tuple(m.meeting_id for m in synthetic))
            if self._cached is not None and self._cached[0] == key:
                return Response(raw=self._cached[1])
            meetings = [*self.meetings.values(), *synthetic]
            if not meetings:
                body = Response(body=_leaves([("meetings", ""), ("messageKey", "noMeetings"),
                                              ("message", "no meetings were found on this server")])).encode()
            else:
                inner = "".join(f"<meeting>{m.xml_body()}</meeting>" for m in meetings)
                body = Response(body=f"<meetings>{inner}</meetings>").encode()
            self._cached = (key, body)
            return Response(raw=body)

    def get_meeting_info(self, params: dict[str, str]) -> Response:
        with self.lock:
            self._expire()
            meeting = self._find(params.get("meetingID", ""))
            if meeting is None:
                return failed("notFound", "We could not find a meeting with that meeting ID")
            return Response(body=meeting.xml_body())

    def is_meeting_running(self, params: dict[str, str]) -> Response:
        with self.lock:
            self._expire()
            meeting = self._find(params.get("meetingID", ""))
            return Response(body=_leaves([("running", _bool(meeting is not None and bool(meeting.attendees)))]))


    # --- recordings (bbb-web's ApiController: getRecordings, publishRecordings,
    # deleteRecordings, updateRecordings; answers as the API documentation shows them) ---

    def get_recordings(self, params: dict[str, str]) -> Response:
        record_ids = _ids(params.get("recordID", ""))
        meeting_ids = _ids(params.get("meetingID", ""))
        states = _ids(params.get("state", "")) or ["published", "unpublished"]
        meta = {k[5:].lower(): v for k, v in params.items() if k.startswith("meta_") and len(k) > 5}
        offset, limit = params.get("offset", "0") or "0", params.get("limit", "")
        if not offset.isdigit() or (limit and not (limit.isdigit() and 1 <= int(limit) <= 100)):
            return failed("invalidParameter", "offset must be at least 0 and limit between 1 and 100.")
        with self.lock:
            found = []
            for rec in self.recordings.values():
                if record_ids:  # a recordID may be the first characters of one (a wildcard); meetingID ignored
                    if not any(rec.record_id.startswith(r) for r in record_ids):
                        continue
                elif meeting_ids and rec.meeting_id not in meeting_ids:
                    continue
                if "any" not in states and rec.state not in states:
                    continue
                if any(rec.metadata.get(k) != v for k, v in meta.items()):
                    continue
                found.append(rec)
            found = found[int(offset):][:int(limit) if limit else None]
            if not found:
                return Response(body="<recordings></recordings>" + _leaves([
                    ("messageKey", "noRecordings"), ("message", "There are no recordings for the meeting(s).")]))
            return Response(body="<recordings>" + "".join(r.xml() for r in found) + "</recordings>")

    def _existing(self, params: dict[str, str]) -> list[StandinRecording] | Response:
        """The recordings the recordID list names exactly, or the answer BBB gives when there are none."""
        ids = _ids(params.get("recordID", ""))
        if not ids:
            return failed("missingParamRecordID", "You must specify a recordID.")
        found = [self.recordings[r] for r in ids if r in self.recordings]
        return found or failed("notFound", "We could not find recordings")

    def publish_recordings(self, params: dict[str, str]) -> Response:
        publish = params.get("publish", "")
        with self.lock:
            found = self._existing(params)
            if isinstance(found, Response):
                return found
            if publish not in ("true", "false"):
                return failed("missingParamPublish", "You must specify a publish value true or false.")
            for rec in found:
                if rec.state in ("published", "unpublished"):
                    rec.published = publish == "true"
                    rec.state = "published" if rec.published else "unpublished"
        return Response(body=_leaves([("published", publish)]))

    def delete_recordings(self, params: dict[str, str]) -> Response:
        with self.lock:
            found = self._existing(params)
            if isinstance(found, Response):
                return found
            for rec in found:
                rec.state, rec.published = "deleted", False
        return Response(body=_leaves([("deleted", "true")]))

    def get_recording_text_tracks(self, params: dict[str, str]) -> Response | JsonResponse:
        """As bbb-web: XML missingParamRecordID without a recordID, else JSON (RecMetaXmlHelper.scala:
        noRecordings, noCaptionsFound, or SUCCESS with the tracks, shaped as the API reference's example)."""
        record_id = params.get("recordID", "").strip()
        if not record_id:
            return failed("missingParamRecordID", "You must specify a recordID.")
        with self.lock:
            rec = self.recordings.get(record_id)
            if rec is None:
                return JsonResponse({"returncode": "FAILED", "messageKey": "noRecordings",
                                     "message": f"No recording found for {record_id}"})
            if not rec.tracks:
                return JsonResponse({"returncode": "FAILED", "messageKey": "noCaptionsFound",
                                     "message": f"No captions found for {record_id}"})
            tracks = [{"href": f"{rec.playback_host}/bigbluebutton/captions/{record_id}/{t.get('kind', 'subtitles')}"
                               f"_{t.get('lang', '')}.vtt", **t} for t in rec.tracks]
            return JsonResponse({"returncode": "SUCCESS", "tracks": tracks})

    def put_recording_text_track(self, params: dict[str, str], upload: bytes | None) -> JsonResponse:
        """As the API reference's putRecordingTextTrack: a file uploaded as the `file` part
        replaces the recording's track of that kind and lang; no file part deletes it."""
        record_id = params.get("recordID", "").strip()
        kind, lang = params.get("kind", ""), params.get("lang", "")
        for name, value in (("recordID", record_id), ("kind", kind), ("lang", lang)):
            if not value:
                return JsonResponse({"returncode": "FAILED", "messageKey": "paramError",
                                     "message": f"Missing param {name}."})
        if kind not in TEXT_TRACK_KINDS:
            return JsonResponse({"returncode": "FAILED", "messageKey": "invalidKind",
                                 "message": f"Invalid kind parameter, expected='subtitles|captions' actual={kind}"})
        if not LANGUAGE_TAG.match(lang):
            return JsonResponse({"returncode": "FAILED", "messageKey": "invalidLang",
                                 "message": f"Malformed lang param, received={lang}"})
        if upload == b"":
            return JsonResponse({"returncode": "FAILED", "messageKey": "empty_uploaded_text_track",
                                 "message": "Empty uploaded text track."})
        with self.lock:
            rec = self.recordings.get(record_id)
            if rec is None:
                return JsonResponse({"returncode": "FAILED", "messageKey": "noRecordings",
                                     "message": f"No recording found for {record_id}"})
            rec.tracks = [t for t in rec.tracks if (t.get("kind"), t.get("lang")) != (kind, lang)]
            if upload is not None:
                rec.tracks.append({"kind": kind, "lang": lang, "label": params.get("label") or lang,
                                   "source": "upload"})
                rec.uploads[(kind, lang)] = upload
            else:
                rec.uploads.pop((kind, lang), None)
        return JsonResponse({"returncode": "SUCCESS", "messageKey": "upload_text_track_success",
                             "message": "Text track uploaded successfully", "recordId": record_id})

    def update_recordings(self, params: dict[str, str]) -> Response:
        with self.lock:
            found = self._existing(params)
            if isinstance(found, Response):
                return found
            for key, value in params.items():
                if key.startswith("meta_") and len(key) > 5:
                    for rec in found:
                        if value:
                            rec.metadata[key[5:].lower()] = value
                        else:
                            rec.metadata.pop(key[5:].lower(), None)
        return Response(body=_leaves([("updated", "true")]))


def _ids(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _int_param(params: dict[str, str], key: str) -> int:
    try:
        return max(int(params.get(key, "0") or "0"), 0)
    except ValueError:
        return 0


def checksum_ok(call: str, raw_query: str, secret: str, algorithms: frozenset[str]) -> bool:
    """BBB's rule: hash(call + query without its checksum parameter + secret), the
    algorithm told by the checksum's length and allowed by the server."""
    parts = raw_query.split("&") if raw_query else []
    given = [p[len("checksum="):] for p in parts if p.startswith("checksum=")]
    if len(given) != 1:
        return False
    algorithm = ALGORITHM_BY_HEX_LENGTH.get(len(given[0]))
    if algorithm is None or algorithm not in algorithms:
        return False
    query = "&".join(p for p in parts if not p.startswith("checksum="))
    expected = hashlib.new(algorithm, (call + query + secret).encode("utf-8")).hexdigest()
    return hmac.compare_digest(expected, given[0].lower())


def _multipart_file(content_type: str, body: bytes) -> bytes | None:
    """The `file` part of a multipart/form-data body (b"" if empty), None without one."""
    if not body or not content_type.lower().startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
                                                  + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_payload(decode=True) or b""
    return None


@dataclass
class Faults:
    """What the server does wrong on purpose. Changeable while it runs (tests flip it)."""

    delay: float = 0.0  # seconds before each API answer
    mode: str | None = None  # one of FAULTS


class _Handler(BaseHTTPRequestHandler):
    server: _ApiHttpServer
    protocol_version = "HTTP/1.1"
    server_version = "meetfleet-bbb-standin"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms (delayed ACK).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        if path == API_PREFIX:
            answer = Response(body=_leaves([("version", "2.0"), ("apiVersion", "2.0"), ("bbbVersion", "")]))
            return self._send(answer.encode())
        if not path.startswith(API_PREFIX + "/"):
            return self._send(b"not found\n", status=404, content_type="text/plain")
        call = path[len(API_PREFIX) + 1:]
        self.server.log(call)
        faults = self.server.faults
        if faults.delay > 0:
            time.sleep(faults.delay)
        if faults.mode == "garbage":
            return self._send(GARBAGE_BODY)
        if faults.mode == "hostile":
            return self._send(HOSTILE_BODY)
        if faults.mode == "wrong-checksum" or not checksum_ok(call, url.query, self.server.secret,
                                                              self.server.algorithms):
            return self._send(failed("checksumError", "Checksums do not match").encode())
        if faults.mode == "fail":
            return self._send(failed("standinFailure", "failure injected by the test server").encode())
        handler = self.server.calls.get(call)
        if handler is None:
            return self._send(failed("unsupportedRequest", "This request is not supported.").encode())
        answer = handler(dict(parse_qsl(url.query, keep_blank_values=True)))
        if isinstance(answer, JsonResponse):
            return self._send(answer.encode(), content_type=answer.content_type)
        return self._send(answer.encode())

    def do_POST(self) -> None:
        """putRecordingTextTrack (the checksum over the query, the file in a multipart body);
        any other call as its GET (bbb-web takes POST for them, parameters in the query)."""
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD_BYTES:
            self.close_connection = True
            return self._send(b"too large\n", status=413, content_type="text/plain")
        body = self.rfile.read(length) if length else b""
        call = url.path.rstrip("/")[len(API_PREFIX) + 1:] if url.path.startswith(API_PREFIX + "/") else ""
        if call != "putRecordingTextTrack":
            return self.do_GET()
        self.server.log(call)
        if not checksum_ok(call, url.query, self.server.secret, self.server.algorithms):
            return self._send(failed("checksumError", "Checksums do not match").encode())
        upload = _multipart_file(self.headers.get("Content-Type", ""), body)
        answer = self.server.state.put_recording_text_track(dict(parse_qsl(url.query, keep_blank_values=True)),
                                                             upload)
        return self._send(answer.encode(), content_type=answer.content_type)

    def _send(self, body: bytes, status: int = 200, content_type: str = "text/xml;charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Standin", STANDIN)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # The default logs each request line; the query holds a checksum. Calls are logged by name instead.
        return


class _ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], secret: str, algorithms: frozenset[str], state: BbbState,
                 faults: Faults, verbose: bool):
        super().__init__(address, _Handler)
        self.secret, self.algorithms, self.state, self.faults, self.verbose = secret, algorithms, state, faults, verbose
        self.calls = {
            "create": state.create, "join": state.join, "end": state.end, "getMeetings": state.get_meetings,
            "getMeetingInfo": state.get_meeting_info, "isMeetingRunning": state.is_meeting_running,
            "getRecordings": state.get_recordings, "publishRecordings": state.publish_recordings,
            "deleteRecordings": state.delete_recordings, "updateRecordings": state.update_recordings,
            "getRecordingTextTracks": state.get_recording_text_tracks,
        }
        # how many times each API call was received (whatever its checksum): tests assert a call never came
        self.seen: dict[str, int] = {}

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (its timeout) is routine here: no traceback on stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def log(self, call: str) -> None:
        key = call if call in self.calls or call == "putRecordingTextTrack" else "other"  # bounded keys
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.verbose:
            print(f"{time.strftime('%H:%M:%S')} {call}", file=sys.stderr, flush=True)


class TestServer:
    """The stand-in on a host and port, served from a background thread (tests, benchmarks)."""

    __test__ = False  # not a pytest test class

    def __init__(self, secret: str, *, host: str = "127.0.0.1", port: int = 0,
                 algorithms: tuple[str, ...] = ("sha1", "sha256", "sha384", "sha512"),
                 clock=time.time, verbose: bool = False):
        self.state = BbbState(clock)
        self.faults = Faults()
        self.httpd = _ApiHttpServer((host, port), secret, frozenset(algorithms), self.state, self.faults, verbose)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def api_url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}{API_PREFIX}"

    def start(self) -> TestServer:
        # A short poll interval: stop() returns quickly (tests start and stop many servers).
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"bbb-standin-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent: a test may stop a server to make it dead)."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread = None
        self.httpd.server_close()

    def seed(self, scenario: dict) -> None:
        seed(self.state, scenario)


def seed(state: BbbState, scenario: dict) -> None:
    """Add the meetings a scenario describes (see --help for the format)."""
    now = state.clock()
    for spec in scenario.get("meetings", []):
        parent = _seed_meeting(state, spec, now, parent=None)
        for number, breakout in enumerate(spec.get("breakouts", []), start=1):
            _seed_meeting(state, breakout, now, parent=parent, sequence=number)


SCENARIO_KEYS = frozenset({"id", "name", "participants", "moderators", "listen_only", "voice", "video",
                           "age_minutes", "duration", "max_participants", "metadata", "customdata", "breakouts"})


def _seed_meeting(state: BbbState, spec: dict, now: float, parent: StandinMeeting | None,
                  sequence: int = 0) -> StandinMeeting:
    if not isinstance(spec, dict) or "id" not in spec:
        raise ValueError(f"a meeting must be an object with an 'id' (got {spec!r:.80})")
    meeting_id = str(spec["id"])
    allowed = SCENARIO_KEYS if parent is None else SCENARIO_KEYS - {"breakouts"}  # breakouts do not nest
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"meeting {meeting_id!r}: unknown keys {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(allowed))})")
    created_ms = int((now - float(spec.get("age_minutes", 0)) * 60) * 1000)
    participants = int(spec.get("participants", 0))
    meeting = StandinMeeting(
        meeting_id=meeting_id, name=str(spec.get("name", meeting_id)), create_time_ms=created_ms,
        duration=int(spec.get("duration", 0)), max_participants=int(spec.get("max_participants", 0)),
        metadata={str(k).lower(): str(v) for k, v in spec.get("metadata", {}).items()},
        attendees=make_attendees(
            meeting_id, participants, moderators=int(spec.get("moderators", min(participants, 1))),
            listen_only=int(spec.get("listen_only", 0)),
            voice=None if spec.get("voice") is None else int(spec["voice"]), video=int(spec.get("video", 0)),
        ),
        is_breakout=parent is not None, parent_internal_id=parent.internal_id if parent else "",
        sequence=sequence,
    )
    if "customdata" in spec and meeting.attendees:  # the first attendee's join userdata-*
        meeting.attendees[0].customdata = {str(k): str(v) for k, v in dict(spec["customdata"]).items()}
    return state.add(meeting)


def uniform_scenario(meetings: int, participants: int, *, listen_only: int = 0, voice: int | None = None,
                     video: int = 0, moderators: int = 1, tenant: str | None = None,
                     origin_server_name: str | None = None, prefix: str = "meeting") -> dict:
    """N identical meetings of M participants: what the --meetings options build."""
    metadata = {}
    if tenant:
        metadata["tenant"] = tenant
    if origin_server_name:
        metadata["bbb-origin-server-name"] = origin_server_name
    return {"meetings": [
        {"id": f"{prefix}-{i + 1}", "name": f"Meeting {i + 1}", "participants": participants,
         "listen_only": listen_only, "voice": voice, "video": video, "moderators": min(moderators, participants),
         "metadata": metadata}
        for i in range(meetings)
    ]}


HELP = f"""\
{STANDIN.upper()}.

A stand-in for BigBlueButton's API, for tests and the lab where BBB cannot be installed.
It speaks create, join, end, getMeetings, getMeetingInfo, isMeetingRunning and the
recording calls (a meeting created with record=true leaves a recording when it ends) under
{API_PREFIX}/ with BBB's checksum rules; every answer carries <standin> and an
X-Standin header. Do not point real users or production at it.

Scenario file (JSON):
  {{"meetings": [{{"id": "room-1", "name": "Room 1", "participants": 10, "moderators": 1,
                 "listen_only": 2, "voice": 6, "video": 3, "age_minutes": 30,
                 "duration": 0, "max_participants": 0, "metadata": {{"tenant": "acme"}},
                 "customdata": {{"bbb_auto_join_audio": "true"}},
                 "breakouts": [{{"id": "room-1-b1", "participants": 3, "voice": 3}}]}}]}}
  listen_only are the first attendees, then voice (default: all the others); the
  last `video` attendees have a camera; customdata is the first attendee's.

Synthetic load file (JSON), for the lab: meetings tagged meta_tenant that come and go
over each tenant's local day (office hours, weekdays higher), a deterministic function
of the time and the seed, always below the plan's users and rooms:
  {{"seed": "bbb-eu-1.lab", "scale": 1.0,
   "tenants": [{{"name": "acme", "timezone": "Europe/Berlin", "max_concurrent_users": 50,
                "max_rooms": 5, "max_meeting_minutes": 120}}]}}
  scale (0 to 10) multiplies how often meetings start; utc_offset_minutes may stand in
  for timezone where the host has no tzdata. Created meetings are listed beside them.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meetfleet-bbb-standin", description=HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # All addresses by default: in the lab the exporter reaches it from another host, as it would BBB.
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default: all)")  # noqa: S104
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--secret-file", required=True, type=Path, help="file holding the shared secret")
    parser.add_argument("--algorithms", default="sha1,sha256,sha384,sha512",
                        help="checksum algorithms accepted (comma-separated)")
    parser.add_argument("--scenario", type=Path, help="JSON file of meetings to hold (format above)")
    parser.add_argument("--synthetic-load", type=Path, metavar="FILE",
                        help="JSON file of tenants whose synthetic meetings follow their local day (format above)")
    seeding = parser.add_argument_group("uniform meetings (added to the scenario's)")
    seeding.add_argument("--meetings", type=int, default=0, help="number of meetings")
    seeding.add_argument("--participants", type=int, default=0, help="participants per meeting")
    seeding.add_argument("--listen-only", type=int, default=0, help="listen-only participants per meeting")
    seeding.add_argument("--voice", type=int, help="two-way audio participants per meeting (default: the rest)")
    seeding.add_argument("--video", type=int, default=0, help="participants with a camera per meeting")
    seeding.add_argument("--tenant", help="meta_tenant tag of these meetings")
    seeding.add_argument("--origin-server-name", help="meta_bbb-origin-server-name of these meetings")
    faults = parser.add_argument_group("faults")
    faults.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each API answer")
    faults.add_argument("--fail", action="store_const", dest="fault", const="fail",
                        help="answer every call FAILED")
    faults.add_argument("--garbage", action="store_const", dest="fault", const="garbage",
                        help="answer every call with bytes that are not XML")
    faults.add_argument("--hostile", action="store_const", dest="fault", const="hostile",
                        help="answer every call with an entity-expansion bomb")
    faults.add_argument("--wrong-checksum", action="store_const", dest="fault", const="wrong-checksum",
                        help="reject every checksum (as a server with another secret would)")
    parser.add_argument("--verbose", action="store_true", help="log each call's name to stderr")
    args = parser.parse_args(argv)

    try:
        secret = args.secret_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        parser.error(f"--secret-file {args.secret_file}: {exc.strerror}")
    if not secret:
        parser.error(f"--secret-file {args.secret_file}: is empty")
    algorithms = tuple(a.strip() for a in args.algorithms.split(",") if a.strip())
    unknown = set(algorithms) - set(ALGORITHM_BY_HEX_LENGTH.values())
    if unknown or not algorithms:
        parser.error(f"--algorithms: unknown {', '.join(sorted(unknown)) or '(none given)'}")
    server = TestServer(secret, host=args.bind, port=args.port, algorithms=algorithms, verbose=args.verbose)
    server.faults.delay, server.faults.mode = args.delay, args.fault
    try:
        if args.scenario:
            server.seed(json.loads(args.scenario.read_text(encoding="utf-8")))
        if args.meetings:
            server.seed(uniform_scenario(args.meetings, args.participants, listen_only=args.listen_only,
                                         voice=args.voice, video=args.video, tenant=args.tenant,
                                         origin_server_name=args.origin_server_name))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        parser.error(f"--scenario/--meetings: {exc}")
    if args.synthetic_load:
        try:
            server.state.synthetic = SyntheticLoad.from_config(
                json.loads(args.synthetic_load.read_text(encoding="utf-8")))
        except OSError as exc:
            parser.error(f"--synthetic-load {args.synthetic_load}: {exc.strerror}")
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            parser.error(f"--synthetic-load {args.synthetic_load}: {exc}")
    # systemd stops it with SIGTERM: leave through the finally below and exit 0. Installed
    # before saying "listening", so whoever waits for that line may stop it at once.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{STANDIN}: {len(server.state.meetings)} meetings"
          f"{' and synthetic load' if server.state.synthetic else ''}, listening on {server.api_url}"
          f"{' (fault: ' + args.fault + ')' if args.fault else ''}", file=sys.stderr, flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
