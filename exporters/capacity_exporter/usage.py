"""From the meetings of one getMeetings answer to server and tenant usage (pure functions).

Counting rules (docs/exporter.md says why):
* `meetings` are rooms: breakout rooms are counted apart (`breakout_rooms`), so a plan's
  room limit is not eaten by breakouts;
* a user in a breakout is listed by BBB in the breakout *and* in its parent; they are
  counted in the breakout and taken out of the parent's participants, so `participants`
  are people. Audio and cameras are reported where they are (they move with the user);
* load is `meetfleet.capacity.load.meeting_load` per meeting (breakouts included: each is
  a real conference on the server), with the parent's participants so reduced;
* a breakout belongs to its parent's tenant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from meetfleet.bbb import Meeting
from meetfleet.capacity.load import meeting_load
from meetfleet.fleet import Fleet

TENANT_TAG = "tenant"  # meta_tenant at create
ORIGIN_TAG = "bbb-origin-server-name"  # set by Greenlight


@dataclass(slots=True)
class Usage:
    meetings: int = 0
    breakout_rooms: int = 0
    participants: int = 0
    listeners: int = 0
    voice: int = 0
    video: int = 0
    load_units: float = 0.0
    longest_meeting_minutes: float = 0.0

    def add(self, other: Usage) -> None:
        self.meetings += other.meetings
        self.breakout_rooms += other.breakout_rooms
        self.participants += other.participants
        self.listeners += other.listeners
        self.voice += other.voice
        self.video += other.video
        self.load_units += other.load_units
        self.longest_meeting_minutes = max(self.longest_meeting_minutes, other.longest_meeting_minutes)


@dataclass(frozen=True, slots=True)
class ServerUsage:
    total: Usage
    tenants: dict[str, Usage] = field(default_factory=dict)
    unattributed_meetings: int = 0


@dataclass(frozen=True)
class TenantDirectory:
    """Which tenant a meeting belongs to, from the inventory."""

    names: frozenset[str]
    by_origin: Mapping[str, str]

    @classmethod
    def from_fleet(cls, fleet: Fleet) -> TenantDirectory:
        return cls(
            names=frozenset(fleet.tenants),
            by_origin={origin: t.name for t in fleet.tenants.values() for origin in t.origin_server_names},
        )

    def tenant_of(self, meeting: Meeting) -> str | None:
        tagged = meeting.metadata.get(TENANT_TAG)
        if tagged in self.names:
            return tagged
        return self.by_origin.get(meeting.metadata.get(ORIGIN_TAG, ""))


def summarise(meetings: Iterable[Meeting], directory: TenantDirectory, now_ms: int) -> ServerUsage:
    """Server totals and per-tenant usage of one server's meetings."""
    meetings = list(meetings)
    in_breakouts: dict[str, int] = defaultdict(int)
    for meeting in meetings:
        if meeting.is_breakout and meeting.parent_id:
            in_breakouts[meeting.parent_id] += meeting.participants
    owner_by_internal_id = {m.internal_id: directory.tenant_of(m) for m in meetings if not m.is_breakout}

    total = Usage()
    tenants: dict[str, Usage] = defaultdict(Usage)
    unattributed = 0
    for meeting in meetings:
        participants = max(meeting.participants - in_breakouts.get(meeting.internal_id, 0), 0)
        usage = Usage(
            meetings=0 if meeting.is_breakout else 1,
            breakout_rooms=1 if meeting.is_breakout else 0,
            participants=participants,
            listeners=meeting.listeners,
            voice=meeting.voice,
            video=meeting.video,
            load_units=meeting_load(participants=participants, voice=meeting.voice,
                                    listeners=meeting.listeners, video=meeting.video),
            longest_meeting_minutes=0.0 if meeting.is_breakout
            else max(now_ms - meeting.started_ms, 0) / 60_000,
        )
        total.add(usage)
        if meeting.is_breakout and meeting.parent_id in owner_by_internal_id:
            tenant = owner_by_internal_id[meeting.parent_id]
        else:
            tenant = directory.tenant_of(meeting)
        if tenant is None:
            unattributed += usage.meetings
        else:
            tenants[tenant].add(usage)
    return ServerUsage(total=total, tenants=dict(tenants), unattributed_meetings=unattributed)
