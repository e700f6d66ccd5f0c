"""From the meetings of one getMeetings answer to server and tenant usage (pure functions).

Counting rules (docs/exporter.md says why):
* `meetings` are rooms: breakout rooms are counted apart (`breakout_rooms`), so a plan's
  room limit is not eaten by breakouts;
* a user in a breakout is listed by BBB in the breakout *and* in its parent; they are
  counted in the breakout and taken out of the parent's participants, so `participants`
  are people. Audio and cameras are reported where they are (they move with the user);
* load is `meetfleet.capacity.load.meeting_load` per meeting (breakouts included: each is
  a real conference on the server), with the parent's participants so reduced;
* a breakout belongs to its parent's tenant (parentMeetingID, or the parent's breakoutRooms);
* what belongs to no tenant is counted as `unattributed`, so that every meeting, person
  and load unit is in exactly one tenant's usage or there, and they add up to the total.
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
    """A server's totals, split without remainder into its tenants' usage and the
    unattributed rest: for every count and the load, total = sum(tenants) + unattributed."""

    total: Usage
    tenants: dict[str, Usage] = field(default_factory=dict)
    unattributed: Usage = field(default_factory=Usage)

    @property
    def unattributed_meetings(self) -> int:
        return self.unattributed.meetings


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


def _parents(meetings: list[Meeting]) -> dict[int, int]:
    """Each breakout's parent room, as positions in `meetings`, where one can be found.

    A breakout names its parent's internal id in parentMeetingID (flat or nested in
    <breakout>, the parser reads both); failing that, a room listing it in its
    breakoutRooms (by internal or external id) is its parent.
    """
    rooms: dict[str, int] = {}
    listed: dict[str, int] = {}
    for index, meeting in enumerate(meetings):
        if not meeting.is_breakout and meeting.internal_id:
            rooms.setdefault(meeting.internal_id, index)
            for breakout_id in meeting.breakout_ids:
                listed.setdefault(breakout_id, index)
    parents: dict[int, int] = {}
    for index, meeting in enumerate(meetings):
        if not meeting.is_breakout:
            continue
        for key, where in ((meeting.parent_id, rooms), (meeting.internal_id, listed), (meeting.meeting_id, listed)):
            if key and key in where:
                parents[index] = where[key]
                break
    return parents


def summarise(meetings: Iterable[Meeting], directory: TenantDirectory, now_ms: int) -> ServerUsage:
    """Server totals and per-tenant usage of one server's meetings."""
    meetings = list(meetings)
    parents = _parents(meetings)
    in_breakouts: dict[int, int] = defaultdict(int)  # parent -> people also listed in its breakouts
    for index, parent in parents.items():
        in_breakouts[parent] += meetings[index].participants

    total = Usage()
    tenants: dict[str, Usage] = defaultdict(Usage)
    unattributed = Usage()
    for index, meeting in enumerate(meetings):
        participants = max(meeting.participants - in_breakouts.get(index, 0), 0)
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
        # a breakout carries no tags: it is its parent's; an orphan is judged by its own tags
        tenant = directory.tenant_of(meetings[parents.get(index, index)])
        (unattributed if tenant is None else tenants[tenant]).add(usage)
    return ServerUsage(total=total, tenants=dict(tenants), unattributed=unattributed)
