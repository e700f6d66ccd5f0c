"""The gateway driven by a third-party BBB client (PyPI bbbctl, which signs with SHA-1)
against BBB API stand-ins: routing, isolation, the three caps, checksums, fallback."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from bbbctl import ApiError, BBBApiClient

from tests.gateway.conftest import SERVER_SECRETS, TENANT_SECRETS, Fleet


def client(gateway, tenant: str, secret: str | None = None) -> BBBApiClient:
    return BBBApiClient(gateway.url(tenant), secret or TENANT_SECRETS[tenant])


def key_of(error: ApiError) -> str:
    return error.tree.findtext("messageKey")


def join(api: BBBApiClient, meeting: str, name: str = "Ann") -> str:
    """Open the join link as a browser would (the gateway redirects to the server); the messageKey."""
    try:
        with urllib.request.urlopen(api.getJoinLink(meeting, name, role="VIEWER"), timeout=10) as answer:
            body = answer.read().decode()
    except urllib.error.HTTPError as exc:  # pragma: no cover - the gateway answers 200 or 302
        raise AssertionError(f"HTTP {exc.code}") from None
    import xml.etree.ElementTree as ET

    return ET.fromstring(body).findtext("messageKey")


def upstream(fleet: Fleet, server: str):
    return fleet.standins[server].state.meetings


def test_create_join_get_meetings_end_through_the_gateway(fleet, gateway):
    api = client(gateway, "acme")
    created = api.createMeeting("weekly", "Weekly meeting")
    assert created.findtext("meetingID") == "weekly"  # the tenant sees its own ID
    meetings = upstream(fleet, "bbb-1.test")
    assert list(meetings) == ["acme~weekly"]  # upstream, namespaced and tagged
    assert meetings["acme~weekly"].metadata["tenant"] == "acme"
    assert join(api, "weekly") == "successfullyJoined"
    assert len(meetings["acme~weekly"].attendees) == 1
    listed = api.getMeetings()
    assert [m.findtext("meetingID") for m in listed] == ["weekly"]
    assert listed[0].findtext("participantCount") == "1"
    info = api.getMeetingInfo("weekly")
    assert info.findtext("meetingName") == "Weekly meeting"
    api.end("weekly")
    assert upstream(fleet, "bbb-1.test") == {}
    with pytest.raises(ApiError) as refused:
        api.getMeetingInfo("weekly")
    assert key_of(refused.value) == "notFound"


def test_a_tenant_at_max_rooms_is_refused_the_next_room_and_gets_it_once_one_ends(gateway):
    api = client(gateway, "acme")  # plan small: 2 rooms
    api.createMeeting("room-1", "One")
    api.createMeeting("room-2", "Two")
    with pytest.raises(ApiError) as refused:
        api.createMeeting("room-3", "Three")
    assert key_of(refused.value) == "maxRoomsReached"
    assert refused.value.tree.findtext("returncode") == "FAILED"
    # create of a running meeting stays idempotent at the cap
    assert api.createMeeting("room-2", "Two").findtext("messageKey") == "duplicateWarning"
    api.end("room-1")
    assert api.createMeeting("room-3", "Three").findtext("meetingID") == "room-3"
    assert gateway.run(gateway.gateway.store.rooms("acme")) == 2
    metrics = gateway.gateway.metrics.refusals.labels("acme", "rooms")._value.get()
    assert metrics == 1


def test_the_per_tenant_override_raises_the_plans_rooms_cap(gateway):
    api = client(gateway, "bakery")  # plan small (2 rooms), its own limits: 3
    for number in (1, 2, 3):
        api.createMeeting(f"room-{number}", "Room")
    with pytest.raises(ApiError) as refused:
        api.createMeeting("room-4", "Room")
    assert key_of(refused.value) == "maxRoomsReached"


def test_a_tenant_at_its_user_cap_is_refused_the_next_join(fleet, gateway):
    api = client(gateway, "acme")  # 4 concurrent users, across its meetings
    api.createMeeting("room-1", "One", maxParticipants="100")
    api.createMeeting("room-2", "Two")
    assert upstream(fleet, "bbb-1.test")["acme~room-1"].max_participants == 4  # never above the cap
    assert [join(api, "room-1", f"U{i}") for i in range(3)] == ["successfullyJoined"] * 3
    assert join(api, "room-2", "U4") == "successfullyJoined"
    with pytest.raises(ApiError) as refused:
        api.call("join", meetingID="room-2", fullName="U5", role="VIEWER")
    assert key_of(refused.value) == "maxConcurrentUsersReached"
    assert sum(len(m.attendees) for m in upstream(fleet, "bbb-1.test").values()) == 4
    # the next poll counts what the servers say: still 4, still refused
    gateway.run(gateway.gateway.poll())
    with pytest.raises(ApiError):
        api.call("join", meetingID="room-1", fullName="U5", role="VIEWER")


def test_users_counted_from_the_poll_free_up_when_people_leave(fleet, gateway):
    api = client(gateway, "acme")
    api.createMeeting("room-1", "One")
    for i in range(4):
        join(api, "room-1", f"U{i}")
    fleet.standins["bbb-1.test"].state.meetings["acme~room-1"].attendees[:] = []  # everyone left
    gateway.run(gateway.gateway.poll())
    assert join(api, "room-1", "U5") == "successfullyJoined"


def test_a_longer_meeting_runs_with_the_plans_duration_and_empty_rooms_expire(fleet, gateway):
    api = client(gateway, "acme")  # 60 minutes
    api.createMeeting("long", "Long", duration="600")
    api.createMeeting("open", "Open")  # 0: no limit asked, the plan's given
    api.end("open")
    api.createMeeting("short", "Short", duration="30")
    meetings = upstream(fleet, "bbb-1.test")
    assert meetings["acme~long"].duration == 60
    assert meetings["acme~short"].duration == 30
    forced = gateway.gateway._create_params(gateway.gateway.config.tenants["acme"],
                                            {"meetingID": "x1", "name": "x", "duration": "0",
                                             "meetingExpireIfNoUserJoinedInMinutes": "600"}, "acme~x1")
    assert forced["duration"] == "60"
    assert forced["meetingExpireIfNoUserJoinedInMinutes"] == "5"
    assert forced["meetingExpireWhenLastUserLeftInMinutes"] == "2"


def test_a_tenant_never_sees_or_touches_another_tenants_meetings(fleet, gateway):
    acme, bakery = client(gateway, "acme"), client(gateway, "bakery")
    acme.createMeeting("board", "Acme board")
    acme.createMeeting("shared-name", "Acme's")
    bakery.createMeeting("shared-name", "Bakery's")  # the same meetingID: two meetings upstream
    assert sorted(upstream(fleet, "bbb-1.test")) == ["acme~board", "acme~shared-name", "bakery~shared-name"]
    assert [m.findtext("meetingID") for m in bakery.getMeetings()] == ["shared-name"]
    assert bakery.getMeetingInfo("shared-name").findtext("meetingName") == "Bakery's"
    for call in ("getMeetingInfo", "end"):
        with pytest.raises(ApiError) as refused:
            bakery.call(call, meetingID="board")
        assert key_of(refused.value) == "notFound"
    with pytest.raises(ApiError) as refused:
        bakery.call("join", meetingID="board", fullName="Spy")
    assert key_of(refused.value) == "notFound"
    assert bakery.call("isMeetingRunning", meetingID="board").findtext("running") == "false"
    assert "acme~board" in upstream(fleet, "bbb-1.test")  # the end did not reach it
    # a meeting put on the server by hand with another tenant's tag is not listed either
    client(gateway, "school").getMeetings()  # school has none
    with pytest.raises(ApiError):
        bakery.createMeeting("x", "too short an ID")  # 1 character: BBB's rule kept


def test_only_the_tenants_own_secret_is_accepted(gateway):
    for wrong in (TENANT_SECRETS["bakery"], SERVER_SECRETS["bbb-1.test"], "guess"):
        with pytest.raises(ApiError) as refused:
            client(gateway, "acme", wrong).getMeetings()
        assert key_of(refused.value) == "checksumError"
    with pytest.raises(ApiError) as refused:  # not a tenant: the same answer, nothing told
        BBBApiClient(gateway.url("nobody"), TENANT_SECRETS["acme"]).getMeetings()
    assert key_of(refused.value) == "checksumError"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_every_checksum_algorithm_bbb_accepts(gateway, algorithm):
    query = urlencode({"meetingID": "alg-room", "name": "Room"})
    digest = hashlib.new(algorithm, ("create" + query + TENANT_SECRETS["acme"]).encode()).hexdigest()
    with urllib.request.urlopen(f"{gateway.url('acme')}/create?{query}&checksum={digest}", timeout=10) as answer:
        assert b"<returncode>SUCCESS</returncode>" in answer.read()
    truncated = digest[:-2]
    with urllib.request.urlopen(f"{gateway.url('acme')}/create?{query}&checksum={truncated}", timeout=10) as answer:
        assert b"checksumError" in answer.read()


def test_a_new_meeting_goes_elsewhere_in_the_region_when_the_tenants_server_is_down(fleet, gateway):
    api = client(gateway, "acme")
    # stopped before the gateway called it: the stand-in's stop() leaves open keep-alive
    # connections served, so a server called before would still answer on them
    fleet.standins["bbb-1.test"].stop()
    api.createMeeting("after", "After")
    # bbb-3 has the most capacity (1000 units) and both others are empty: most spare
    assert "acme~after" in upstream(fleet, "bbb-3.test")
    assert join(api, "after") == "successfullyJoined"  # later calls go where it runs
    assert gateway.gateway.metrics.upstream_errors.labels("bbb-1.test", "connect")._value.get() >= 1


def test_a_cordoned_home_server_takes_no_new_meeting(tmp_path):
    from tests.gateway.conftest import RunningGateway

    fleet = Fleet(tmp_path, states={"bbb-1.test": "cordoned"})
    try:
        from meetfleet.gateway.server import Gateway
        from meetfleet.gateway.store import MemoryStore

        running = RunningGateway(Gateway(fleet.config(), MemoryStore(), poll_interval=0, timeout=2.0))
        try:
            client(running, "acme").createMeeting("room", "Room")
            assert upstream(fleet, "bbb-1.test") == {}
            assert "acme~room" in upstream(fleet, "bbb-3.test")
        finally:
            running.stop()
    finally:
        fleet.stop()


def test_unsupported_calls_are_refused_not_passed_through(fleet, gateway):
    api = client(gateway, "acme")
    for call, params in (("insertDocument", {"meetingID": "x"}),
                         ("sendChatMessage", {"meetingID": "x", "message": "hi"})):
        with pytest.raises(ApiError) as refused:
            api.call(call, **params)
        assert key_of(refused.value) == "unsupportedRequest"
    # nothing reached a server but the gateway's own poll
    assert all(set(standin.httpd.seen) <= {"getMeetings"} for standin in fleet.standins.values())
