"""Counting rules of usage.summarise on hand-made meetings (no server needed)."""

from __future__ import annotations

import pytest

from capacity_exporter.usage import TenantDirectory, summarise
from meetfleet.bbb import Meeting

DIRECTORY = TenantDirectory(names=frozenset({"acme", "coop"}), by_origin={"rooms.coop.test": "coop"})


def meeting(mid: str, participants: int, *, voice: int = 0, listeners: int = 0, video: int = 0,
            breakout_of: str | None = None, metadata: dict[str, str] | None = None, started_ms: int = 0) -> Meeting:
    return Meeting(meeting_id=mid, internal_id=f"int-{mid}", name=mid, running=participants > 0,
                   create_time_ms=started_ms, start_time_ms=0, duration_minutes=0, participants=participants,
                   listeners=listeners, voice=voice, video=video, moderators=0, max_users=0,
                   is_breakout=breakout_of is not None, parent_id=f"int-{breakout_of}" if breakout_of else None,
                   metadata=metadata or {})


def test_tag_wins_over_origin_and_unknown_tag_falls_back_to_origin() -> None:
    usage = summarise([
        meeting("a", 1, metadata={"tenant": "acme", "bbb-origin-server-name": "rooms.coop.test"}),
        meeting("b", 1, metadata={"tenant": "nobody", "bbb-origin-server-name": "rooms.coop.test"}),
        meeting("c", 1, metadata={"tenant": "nobody"}),
    ], DIRECTORY, 0)
    assert (usage.tenants["acme"].meetings, usage.tenants["coop"].meetings, usage.unattributed_meetings) == (1, 1, 1)


def test_breakout_users_are_people_once_and_belong_to_the_parent_tenant() -> None:
    usage = summarise([
        meeting("p", 6, voice=2, metadata={"tenant": "acme"}),
        meeting("b1", 2, voice=2, breakout_of="p"),
        meeting("b2", 2, voice=2, breakout_of="p", metadata={"tenant": "coop"}),  # the parent decides
    ], DIRECTORY, 0)
    total = usage.total
    assert (total.meetings, total.breakout_rooms, total.participants, total.voice) == (1, 2, 6, 6)
    # parent: 5 + (6-4) + 2; each breakout: 5 + 2 + 2
    assert total.load_units == pytest.approx(9 + 9 + 9)
    assert set(usage.tenants) == {"acme"} and usage.tenants["acme"].participants == 6


def test_orphan_breakout_counts_on_its_own_and_parent_never_goes_negative() -> None:
    usage = summarise([
        meeting("p", 1, metadata={"tenant": "acme"}),
        meeting("b1", 3, breakout_of="p"),  # BBB lists them in the parent a poll later
        meeting("b9", 2, breakout_of="gone", metadata={"tenant": "coop"}),
    ], DIRECTORY, 0)
    assert usage.total.participants == 0 + 3 + 2
    assert usage.tenants["coop"].breakout_rooms == 1 and usage.tenants["coop"].participants == 2


def test_longest_meeting_is_the_oldest_room_not_a_breakout() -> None:
    now = 10 * 3_600_000
    usage = summarise([
        meeting("old", 1, metadata={"tenant": "acme"}, started_ms=now - 45 * 60_000),
        meeting("young", 1, metadata={"tenant": "acme"}, started_ms=now - 5 * 60_000),
        meeting("b", 1, breakout_of="young", started_ms=now - 600 * 60_000),
    ], DIRECTORY, now)
    assert usage.tenants["acme"].longest_meeting_minutes == 45


def test_a_room_started_this_minute_is_zero_minutes_long_even_with_breakouts() -> None:
    now = 10 * 3_600_000
    usage = summarise([
        meeting("young", 2, metadata={"tenant": "acme"}, started_ms=now),
        meeting("b", 1, breakout_of="young", started_ms=0),  # a breakout's own clock is not read
    ], DIRECTORY, now)
    assert usage.tenants["acme"].longest_meeting_minutes == 0
    assert usage.total.longest_meeting_minutes == 0
