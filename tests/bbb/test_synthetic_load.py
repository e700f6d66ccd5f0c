"""The test server's synthetic load (lab): deterministic, below the plan caps, following the
tenant's local office hours, listed beside the meetings created through the API."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from capacity_exporter.usage import TenantDirectory, summarise
from meetfleet.bbb import BbbClient, BbbEndpoint
from meetfleet.testing.bbb_standin import SyntheticLoad, TestServer, main
from tests.bbb.conftest import SECRET, Clock

PLANS = {"small": (50, 5, 120), "medium": (200, 20, 240), "large": (600, 50, 480)}
CONFIG = {"seed": "bbb-eu-1.lab", "scale": 1.0, "tenants": [
    {"name": name, "timezone": tz, "max_concurrent_users": users, "max_rooms": rooms, "max_meeting_minutes": minutes}
    for name, tz, (users, rooms, minutes) in [
        ("bakery", "Europe/Berlin", PLANS["small"]), ("housing", "Europe/Berlin", PLANS["large"]),
        ("federation", "Europe/Berlin", PLANS["medium"]), ("cafe", "America/Toronto", PLANS["small"])]]}
CAPS = {t["name"]: (t["max_concurrent_users"], t["max_rooms"], t["max_meeting_minutes"]) for t in CONFIG["tenants"]}
BERLIN, TORONTO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Toronto")
# Monday 2026-03-23 .. Sunday 2026-03-29: the week Europe changes to summer time (Sunday)
MONDAY = datetime(2026, 3, 23, tzinfo=BERLIN)


def local(day: int, hour: int, minute: int = 0, zone=BERLIN) -> float:
    return datetime(2026, 3, 23 + day, hour, minute, tzinfo=zone).timestamp()


def per_tenant(load: SyntheticLoad, now: float) -> dict[str, tuple[int, int]]:
    """tenant -> (rooms, people) running at `now`."""
    counts: dict[str, tuple[int, int]] = {}
    for m in load.active(now):
        rooms, people = counts.get(m.tenant, (0, 0))
        counts[m.tenant] = (rooms + 1, people + m.participants)
    return counts


def test_same_time_and_seed_same_meetings_in_another_instance() -> None:
    for hour in (9, 12, 15, 18):
        now = local(2, hour, 7)
        assert SyntheticLoad.from_config(CONFIG).active(now) == SyntheticLoad.from_config(CONFIG).active(now)
    other = SyntheticLoad.from_config({**CONFIG, "seed": "bbb-eu-2.lab"})
    day = [local(2, h) for h in range(8, 18)]
    assert [other.active(t) for t in day] != [SyntheticLoad.from_config(CONFIG).active(t) for t in day]


def test_a_meeting_keeps_its_identity_and_people_while_it_runs() -> None:
    load = SyntheticLoad.from_config(CONFIG)
    seen: dict[str, tuple] = {}
    now = local(1, 8)
    while now < local(1, 20):
        for m in load.active(now):
            assert seen.setdefault(m.meeting_id, (m.start, m.end, m.participants)) == (m.start, m.end, m.participants)
        now += 60
    assert len(seen) > 10  # meetings came and went


def test_never_above_the_plan_caps_over_a_week() -> None:
    load = SyntheticLoad.from_config({**CONFIG, "scale": 10})  # the busiest it can be made
    now, end = MONDAY.timestamp(), (MONDAY + timedelta(days=7)).timestamp()
    busiest = dict.fromkeys(CAPS, 0)
    while now < end:
        for tenant, (rooms, people) in per_tenant(load, now).items():
            users_cap, rooms_cap, _ = CAPS[tenant]
            assert rooms <= rooms_cap and people < users_cap, (tenant, now)
            busiest[tenant] = max(busiest[tenant], people)
        for m in load.active(now):
            assert m.end - m.start <= CAPS[m.tenant][2] * 60 and m.participants >= 1
            assert m.listen_only + m.voice == m.participants and m.video <= m.participants
        now += 15 * 60
    assert all(value > 0 for value in busiest.values())


def test_busy_at_weekday_local_noon_empty_at_local_3am() -> None:
    load = SyntheticLoad.from_config(CONFIG)
    for day in range(5):  # Monday to Friday
        noon = per_tenant(load, local(day, 12))
        assert noon.get("housing", (0, 0))[1] > 0 and noon.get("federation", (0, 0))[1] > 0
        assert set(per_tenant(load, local(day, 3))) <= {"cafe"}  # 21:00 in Toronto
        assert "cafe" not in per_tenant(load, local(day, 3, zone=TORONTO))
    assert sum(per_tenant(load, local(d, 12)).get("bakery", (0, 0))[1] for d in range(5)) > 0


def test_each_tenant_follows_its_own_time_zone() -> None:
    load = SyntheticLoad.from_config(CONFIG)
    berlin_noon = local(2, 12)  # 06:00 in Toronto: not yet office hours
    assert "cafe" not in per_tenant(load, berlin_noon)
    toronto_days = [per_tenant(load, local(d, 11, zone=TORONTO)).get("cafe", (0, 0))[1] for d in range(5)]
    assert sum(toronto_days) > 0


def test_weekdays_are_busier_than_weekends() -> None:
    load = SyntheticLoad.from_config(CONFIG)

    def people(day: int) -> int:
        return sum(sum(p for _, p in per_tenant(load, local(day, h, m)).values())
                   for h in range(8, 18) for m in (0, 30))

    assert min(people(d) for d in range(5)) > 2 * max(people(5), people(6))


def test_scale_zero_is_no_load_and_bad_configs_are_refused() -> None:
    assert SyntheticLoad.from_config({**CONFIG, "scale": 0}).active(local(2, 12)) == []
    for bad in ({"tenants": [{"name": "x", "timezone": "Mars/Olympus"}]}, {"tenants": [{"name": "x", "rooms": 1}]},
                {"scale": -1}, {"tenants": "x"}, {"tenants": [{"name": "x", "max_rooms": -2}]}):
        with pytest.raises(ValueError):
            SyntheticLoad.from_config(bad)


def test_synthetic_meetings_beside_created_ones_through_the_api(tmp_path: Path) -> None:
    clock = Clock(local(2, 12))
    server = TestServer(SECRET, clock=clock).start()
    server.state.synthetic = SyntheticLoad.from_config(CONFIG)
    endpoint = BbbEndpoint(server.api_url, SECRET, "sha256")
    directory = TenantDirectory(names=frozenset(CAPS), by_origin={})

    async def scenario():
        async with BbbClient(5) as client:
            await client.create(endpoint, "explicit-1", "Explicit", metadata={"tenant": "bakery"})
            meetings = await client.get_meetings(endpoint)
            synthetic = next(m for m in meetings if m.meeting_id.startswith("synthetic-"))
            info = await client.get_meeting_info(endpoint, synthetic.meeting_id)
            await client.end(endpoint, "explicit-1")
            return meetings, info, await client.get_meetings(endpoint)

    try:
        meetings, info, after = asyncio.run(scenario())
    finally:
        server.stop()
    ids = [m.meeting_id for m in meetings]
    assert "explicit-1" in ids and len(ids) > 1
    assert info.participants > 0 and info.metadata == {"tenant": info.meeting_id.split("-")[1]}
    assert [m.meeting_id for m in after] == [i for i in ids if i != "explicit-1"]
    usage = summarise(meetings, directory, int(clock.now * 1000))
    assert usage.unattributed.meetings == 0  # every synthetic meeting is tagged with a tenant of the plan
    for tenant, tenant_usage in usage.tenants.items():
        assert tenant_usage.participants < CAPS[tenant][0] and tenant_usage.meetings <= CAPS[tenant][1] + 1


def test_cli_refuses_a_bad_synthetic_load_file_by_name(tmp_path: Path, capsys) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    bad = tmp_path / "load.json"
    bad.write_text('{"tenants": [{"name": "x", "timezone": "Mars/Olympus"}]}')
    with pytest.raises(SystemExit) as exit_:
        main(["--port", "0", "--secret-file", str(secret), "--synthetic-load", str(bad)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Mars/Olympus" in err and "Traceback" not in err
