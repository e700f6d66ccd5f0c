"""usage.summarise on BBB's documented answers (tests/bbb/fixtures/): every person is counted
once, in exactly one tenant or in `unattributed`, and the parts add up to the server's totals."""

from __future__ import annotations

import asyncio
from dataclasses import fields, replace
from pathlib import Path

import pytest

from capacity_exporter import poller, workers
from capacity_exporter.usage import TenantDirectory, Usage, summarise
from meetfleet.bbb import BbbClient, ErrorKind
from meetfleet.bbb.parsing import check_returncode, parse_response
from tests.exporter.conftest import FleetLab

FIXTURES = Path(__file__).parents[1] / "bbb" / "fixtures"
# acme by its meta_tenant tag; "greenlight-coop" by the origin server name of the
# documented getMeetingInfo example (Greenlight sets bbb-origin-server-name)
DIRECTORY = TenantDirectory(names=frozenset({"acme", "greenlight-coop"}),
                            by_origin={"test30.bigbluebutton.org": "greenlight-coop"})
SUMMED = [f.name for f in fields(Usage) if f.name != "longest_meeting_minutes"]


def meetings_of(name: str):
    return check_returncode(parse_response((FIXTURES / name).read_bytes())).meetings


@pytest.mark.parametrize("name", ["get_meetings.xml", "get_meetings_nested_breakout.xml"])
def test_tenants_and_unattributed_add_up_to_the_server(name: str) -> None:
    meetings = meetings_of(name)
    usage = summarise(meetings, DIRECTORY, now_ms=1_715_262_600_000)
    parts = [*usage.tenants.values(), usage.unattributed]
    for attr in SUMMED:
        assert sum(getattr(p, attr) for p in parts) == pytest.approx(getattr(usage.total, attr)), attr
    # BBB lists a user in a breakout in its parent too: the people on the server are the
    # rooms' participantCount, each of them counted once whatever breakout they are in
    people = sum(m.participants for m in meetings if not m.is_breakout)
    assert usage.total.participants == people
    assert usage.total.meetings == sum(not m.is_breakout for m in meetings)
    assert usage.total.breakout_rooms == sum(m.is_breakout for m in meetings) == 1


def test_documented_get_meetings_figures_by_hand() -> None:
    usage = summarise(meetings_of("get_meetings.xml"), DIRECTORY, now_ms=1_715_262_600_000)
    gl, acme, rest = usage.tenants["greenlight-coop"], usage.tenants["acme"], usage.unattributed
    # Anton G's Room: 4 listed, 2 of them in its breakout -> 2 own: 5 + 2 + 2 voice + 0.5 + 0.1*1*1
    # its breakout (no tags, the parent's tenant): 5 + 2 + 2 voice
    assert (gl.meetings, gl.breakout_rooms, gl.participants) == (1, 1, 4)
    assert gl.load_units == pytest.approx(9.6 + 9)
    assert (acme.meetings, acme.participants, acme.load_units) == (1, 0, 5)  # Demo Meeting, nobody in it
    # board-1's tag names no tenant: 5 + 2 + 1 voice + 0.1*2 cameras*1
    assert (rest.meetings, rest.participants, rest.load_units) == (1, 2, pytest.approx(8.2))
    assert usage.unattributed_meetings == 1
    assert usage.total.load_units == pytest.approx(9.6 + 9 + 5 + 8.2)


def test_nested_breakout_is_the_parents_and_its_people_are_not_counted_twice() -> None:
    usage = summarise(meetings_of("get_meetings_nested_breakout.xml"), DIRECTORY, now_ms=1_531_241_000_000)
    acme = usage.tenants["acme"]
    assert set(usage.tenants) == {"acme"} and usage.unattributed == Usage()
    # plenary lists 5, 3 of them in its breakout: 2 + 3 people, one room and one breakout
    assert (acme.meetings, acme.breakout_rooms, acme.participants) == (1, 1, 5)


def test_a_breakout_listed_only_in_its_parents_breakout_rooms_is_the_parents() -> None:
    parent, breakout = meetings_of("get_meetings_nested_breakout.xml")
    unlinked = replace(breakout, parent_id=None)  # a shape that names no parent: breakoutRooms still does
    usage = summarise([parent, unlinked], DIRECTORY, now_ms=0)
    assert usage.tenants["acme"].participants == 5 and usage.unattributed == Usage()


def test_a_poll_never_raises_whatever_the_counting_meets(lab: FleetLab, monkeypatch) -> None:
    state = lab.state()

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("a bug met by a strange answer")

    monkeypatch.setattr(workers, "summarise", broken)  # where the answer is counted (inline here)
    target = next(t for t in state.targets if t.polled)

    async def once():
        async with BbbClient(2) as client:
            return await poller.poll_server(client, state, target, lab.clock)

    result = asyncio.run(once())
    assert not result.up and result.error.kind is ErrorKind.MALFORMED
    assert state.errors[(target.name, "malformed")] == 1
