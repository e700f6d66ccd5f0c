"""Against the BBB API test server holding known meetings, every metric has its exact value.

Expected figures are worked by hand from the load weights of meetfleet.capacity.load:
load = 5 per meeting + 1 per participant + 1 per voice + 0.5 per listener
       + 0.1 per camera per other participant.
"""

from __future__ import annotations

import pytest

from capacity_exporter.poller import ExporterState
from tests.exporter.conftest import FleetLab, poll, scrape, value

# bbb-a: acme-1 lists 10 (3 of them also in its breakout) -> 7 own participants:
#   5 + 7 + 6 voice + 0.5*2 listeners + 0.1*3 cameras*6 viewers = 20.8
# its breakout: 5 + 3 + 3 voice = 11; acme-2: 5 + 4 + 4 + 0.1*1*3 = 13.3; stray: 5 + 2 + 2 = 9
A_LOAD = 20.8 + 11 + 13.3 + 9  # 54.1
# bbb-b: coop-1: 5 + 20 + 10 voice + 0.5*10 + 0.1*2*19 = 43.8
B_LOAD = 43.8

EXPECTED_SERVERS = {
    # server: (region, meetings, participants, listeners, voice, video, load, capacity)
    "bbb-a.test": ("eu", 3, 7 + 3 + 4 + 2, 2, 6 + 3 + 4 + 2, 3 + 1, A_LOAD, 200),
    "bbb-b.test": ("eu", 1, 20, 10, 10, 2, B_LOAD, 400),
    "bbb-c.test": ("ca", 0, 0, 0, 0, 0, 0.0, 100),
}
EXPECTED_TENANTS = {
    # tenant: (plan, region, server, meetings, participants, load, longest minutes, users, rooms, minutes)
    "acme": ("small", "eu", "bbb-a.test", 2, 7 + 3 + 4, 20.8 + 11 + 13.3, 90, 50, 5, 120),
    "coop": ("large", "eu", "bbb-b.test", 1, 20, B_LOAD, 10, 600, 50, 480),
    "idle": ("small", "ca", "bbb-c.test", 0, 0, 0.0, 0, 50, 5, 120),
}
STATES = {"bbb-a.test": "active", "bbb-b.test": "cordoned", "bbb-c.test": "active", "bbb-old.test": "retired"}


def test_per_server_metrics_are_exact(lab: FleetLab, served: tuple[ExporterState, str]) -> None:
    state, url = served
    poll(lab, state)
    m = scrape(url)
    for server, (region, meetings, participants, listeners, voice, video, load, capacity) in EXPECTED_SERVERS.items():
        s = {"server": server, "region": region}
        assert value(m, "meetfleet_server_up", **s) == 1
        assert value(m, "meetfleet_server_meetings", **s) == meetings
        assert value(m, "meetfleet_server_participants", **s) == participants
        assert value(m, "meetfleet_server_listeners", **s) == listeners
        assert value(m, "meetfleet_server_voice_participants", **s) == voice
        assert value(m, "meetfleet_server_video_streams", **s) == video
        assert value(m, "meetfleet_server_load_units", **s) == pytest.approx(load, abs=1e-9)
        assert value(m, "meetfleet_server_capacity_load_units", **s) == capacity
        assert value(m, "meetfleet_server_spare_load_units", **s) == pytest.approx(capacity - load, abs=1e-9)
        assert value(m, "meetfleet_server_last_success_timestamp_seconds", **s) == lab.clock.now
        assert 0 < value(m, "meetfleet_server_poll_duration_seconds", **s) < 2
        assert value(m, "meetfleet_exporter_polls_total", server=server) == 1
        for kind in ("timeout", "connect", "http", "checksum", "failed", "malformed", "hostile", "too_large"):
            assert value(m, "meetfleet_exporter_errors_total", server=server, kind=kind) == 0


def test_state_is_one_hot_from_the_inventory(lab: FleetLab, served: tuple[ExporterState, str]) -> None:
    state, url = served
    poll(lab, state)
    m = scrape(url)
    for server, current in STATES.items():
        region = EXPECTED_SERVERS.get(server, ("eu",))[0]
        for candidate in ("active", "cordoned", "draining", "retired"):
            expected = 1 if candidate == current else 0
            assert value(m, "meetfleet_server_state", server=server, region=region, state=candidate) == expected


def test_retired_server_is_not_polled(lab: FleetLab, served: tuple[ExporterState, str]) -> None:
    state, url = served
    poll(lab, state)
    m = scrape(url)
    assert value(m, "meetfleet_server_capacity_load_units", server="bbb-old.test", region="eu") == 300
    retired = [key for key in m if ("server", "bbb-old.test") in key[1]]
    assert {name for name, _ in retired} == {"meetfleet_server_capacity_load_units", "meetfleet_server_state"}


def test_per_tenant_metrics_are_exact_for_every_tenant(lab: FleetLab, served: tuple[ExporterState, str]) -> None:
    state, url = served
    poll(lab, state)
    m = scrape(url)
    for tenant, (plan, region, server, meetings, participants, load, longest, users, rooms, minutes) in (
            EXPECTED_TENANTS.items()):
        t = {"tenant": tenant, "plan": plan, "region": region, "server": server}
        assert value(m, "meetfleet_tenant_meetings", **t) == meetings
        assert value(m, "meetfleet_tenant_participants", **t) == participants
        assert value(m, "meetfleet_tenant_load_units", **t) == pytest.approx(load, abs=1e-9)
        assert value(m, "meetfleet_tenant_longest_meeting_seconds", **t) == longest * 60
        assert value(m, "meetfleet_tenant_plan_max_concurrent_users", **t) == users
        assert value(m, "meetfleet_tenant_plan_max_rooms", **t) == rooms
        assert value(m, "meetfleet_tenant_plan_max_meeting_seconds", **t) == minutes * 60
    tenants_seen = {dict(labels)["tenant"] for name, labels in m if name == "meetfleet_tenant_meetings"}
    assert tenants_seen == set(EXPECTED_TENANTS)  # the unknown tag makes no series of its own


def test_metrics_follow_the_servers_between_polls(lab: FleetLab, served: tuple[ExporterState, str]) -> None:
    state, url = served
    poll(lab, state)
    lab.servers["bbb-c.test"].seed({"meetings": [{"id": "new", "participants": 1, "voice": 0,
                                                  "metadata": {"tenant": "idle"}}]})
    lab.servers["bbb-b.test"].state.clear()
    lab.clock.now += 15
    before = scrape(url)  # a scrape between polls is the last complete poll, unchanged
    assert value(before, "meetfleet_server_meetings", server="bbb-b.test", region="eu") == 1
    poll(lab, state)
    m = scrape(url)
    assert value(m, "meetfleet_server_meetings", server="bbb-b.test", region="eu") == 0
    assert value(m, "meetfleet_server_load_units", server="bbb-c.test", region="ca") == 5 + 1
    assert value(m, "meetfleet_tenant_meetings", tenant="idle", plan="small", region="ca", server="bbb-c.test") == 1
    assert value(m, "meetfleet_server_last_success_timestamp_seconds", server="bbb-a.test", region="eu") == (
        lab.clock.now)
    assert value(m, "meetfleet_exporter_polls_total", server="bbb-a.test") == 2


def test_no_secret_in_the_metrics(lab: FleetLab, served: tuple[ExporterState, str]) -> None:
    state, _url = served
    poll(lab, state)
    payload = state.payload.decode()
    assert "secret-of-" not in payload and "checksum=" not in payload
