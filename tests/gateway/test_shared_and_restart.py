"""Several instances with one Redis; a gateway killed and restarted; the command's input checks."""

from __future__ import annotations

import os
import signal
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bbbctl import ApiError, BBBApiClient

from tests.gateway.conftest import TENANT_SECRETS, free_port, run_gateway, start_gateway_process


def test_two_instances_with_one_redis_hold_a_tenant_to_its_rooms_cap_under_racing_creates(
        fleet, start_gateway, redis_store_factory):
    first, second = start_gateway(redis_store_factory()), start_gateway(redis_store_factory())
    clients = [BBBApiClient(g.url("acme"), TENANT_SECRETS["acme"]) for g in (first, second)]

    def create(number: int) -> str:
        try:
            clients[number % 2].createMeeting(f"race-{number}", "Race")
            return "created"
        except ApiError as exc:
            return exc.tree.findtext("messageKey")

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(create, range(16)))
    assert outcomes.count("created") == 2, outcomes  # plan small: 2 rooms
    assert outcomes.count("maxRoomsReached") == 14
    assert len(fleet.standins["bbb-1.test"].state.meetings) == 2
    # an end on one instance frees the room for a create on the other
    created = [n for n, o in enumerate(outcomes) if o == "created"]
    clients[0].end(f"race-{created[0]}")
    clients[1].createMeeting("after-end", "After")
    # and a create of a running meeting through the other instance stays idempotent
    assert clients[0].createMeeting("after-end", "After").findtext("messageKey") == "duplicateWarning"


def test_the_users_cap_holds_across_instances(fleet, start_gateway, redis_store_factory):
    first, second = start_gateway(redis_store_factory()), start_gateway(redis_store_factory())
    a, b = (BBBApiClient(g.url("acme"), TENANT_SECRETS["acme"]) for g in (first, second))
    a.createMeeting("room", "Room")
    outcomes = []
    for number in range(6):
        api = (a, b)[number % 2]
        try:
            urllib.request.urlopen(api.getJoinLink("room", f"U{number}"), timeout=10).read()
            outcomes.append("joined")
        except Exception:  # urllib raises nothing for 200; bbbctl's call is not used here
            outcomes.append("error")
    assert len(fleet.standins["bbb-1.test"].state.meetings["acme~room"].attendees) == 4


def test_killed_with_meetings_running_the_restarted_gateway_knows_them_all(fleet):
    port = free_port()
    process = start_gateway_process(fleet, port)
    try:
        acme = BBBApiClient(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", TENANT_SECRETS["acme"])
        school = BBBApiClient(f"http://127.0.0.1:{port}/t/school/bigbluebutton/api", TENANT_SECRETS["school"])
        acme.createMeeting("one", "One")
        acme.createMeeting("two", "Two")
        school.createMeeting("assembly", "Assembly")
        for number in range(3):
            urllib.request.urlopen(acme.getJoinLink("one", f"U{number}"), timeout=10).read()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    process = start_gateway_process(fleet, port)  # memory counters: all it knows comes from the servers
    try:
        assert sorted(m.findtext("meetingID") for m in acme.getMeetings()) == ["one", "two"]
        assert [m.findtext("meetingID") for m in school.getMeetings()] == ["assembly"]
        with pytest.raises(ApiError) as refused:  # the two running rooms still count
            acme.createMeeting("three", "Three")
        assert refused.value.tree.findtext("messageKey") == "maxRoomsReached"
        urllib.request.urlopen(acme.getJoinLink("two", "U3"), timeout=10).read()  # 3 users polled + 1
        with pytest.raises(ApiError) as refused:
            acme.call("join", meetingID="two", fullName="U4")
        assert refused.value.tree.findtext("messageKey") == "maxConcurrentUsersReached"
        acme.end("one")  # and it still knows where each meeting runs
        acme.createMeeting("three", "Three")
    finally:
        process.terminate()
        assert process.wait(10) == 0
        assert "Traceback" not in process.stderr.read()


def test_bad_input_exits_2_with_a_clear_message_and_no_traceback(fleet, tmp_path):
    base = ["--inventory", str(fleet.inventory), "--secrets", str(fleet.secrets)]
    cases = {
        "no listen": (base, "--listen"),
        "bad listen": ([*base, "--listen", "nowhere"], "is not HOST:PORT"),
        "bad redis": ([*base, "--listen", "127.0.0.1:0", "--redis", "http://x"], "--redis"),
        "bad poll": ([*base, "--listen", "127.0.0.1:0", "--poll-interval", "-1"], "--poll-interval"),
        "no inventory": (["--inventory", str(tmp_path / "none"), "--secrets", str(fleet.secrets),
                          "--listen", "127.0.0.1:0"], "is not an inventory directory"),
    }
    for name, (args, expected) in cases.items():
        result = run_gateway(*args)
        assert result.returncode == 2, (name, result.stderr)
        assert expected in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr
    fleet.secrets.chmod(0o644)
    result = run_gateway(*base, "--listen", "127.0.0.1:0")
    assert result.returncode == 2 and "chmod 600" in result.stderr
    fleet.secrets.chmod(0o600)
    text = fleet.secrets.read_text()
    fleet.secrets.write_text(text.replace("bakery-tenant-secret-012345678", "server-one-secret-0123456789"))
    result = run_gateway(*base, "--listen", "127.0.0.1:0")
    assert result.returncode == 2 and "is a BBB server's secret" in result.stderr
    assert "server-one-secret" not in result.stderr  # never the secret itself
    Path(fleet.secrets).write_text("tenant_secrets: [unclosed\n  secret-in-a-broken-file")
    os.chmod(fleet.secrets, 0o600)
    result = run_gateway(*base, "--listen", "127.0.0.1:0")
    assert result.returncode == 2 and "secret-in-a-broken-file" not in result.stderr


def test_an_unreachable_redis_exits_1(fleet):
    result = run_gateway("--inventory", str(fleet.inventory), "--secrets", str(fleet.secrets),
                  "--listen", "127.0.0.1:0", "--redis", f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 1 and "cannot reach Redis" in result.stderr
    assert "Traceback" not in result.stderr


def test_limits_in_the_inventory_are_bounded_like_the_plans(fleet):
    from meetfleet.fleet import InventoryError
    from meetfleet.fleet.loader import load_inventory

    loaded = load_inventory(fleet.inventory)
    assert loaded.tenant_caps(loaded.tenants["bakery"]) == (6, 3, 60)
    assert loaded.tenant_caps(loaded.tenants["acme"]) == (4, 2, 60)
    fleet_yml = fleet.inventory / "group_vars" / "all" / "fleet.yml"
    for bad in ("{max_rooms: 0}", "{max_rooms: '3'}", "{max_meeting_minutes: 20000}", "{max_room: 3}"):
        fleet_yml.write_text(fleet_yml.read_text().replace("limits: {max_rooms: 3, max_concurrent_users: 6}",
                                                           f"limits: {bad}"))
        with pytest.raises(InventoryError) as error:
            load_inventory(fleet.inventory)
        assert "fleet_tenants.bakery" in str(error.value), bad
        fleet_yml.write_text(fleet_yml.read_text().replace(f"limits: {bad}",
                                                           "limits: {max_rooms: 3, max_concurrent_users: 6}"))
