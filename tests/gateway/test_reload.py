"""SIGHUP: a changed inventory (a tenant's override, a new tenant) applies without a restart,
the counters kept; a file that does not load is refused, named, and the gateway goes on
with what it had. And the gateway tells systemd when it is ready (sd_notify), not before."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bbbctl import ApiError, BBBApiClient

from tests.gateway.conftest import TENANT_SECRETS, free_port, start_gateway_process

FLEET_FILE = Path("group_vars") / "all" / "fleet.yml"


def rooms_refused(api: BBBApiClient, meeting_id: str) -> str | None:
    try:
        api.createMeeting(meeting_id, meeting_id)
        return None
    except ApiError as exc:
        return exc.tree.findtext("messageKey")


def hang_up_and_wait(process: subprocess.Popen, says: str, timeout: float = 15) -> str:
    """SIGHUP, then the gateway's log until the line saying `says` (reload done or refused)."""
    process.send_signal(signal.SIGHUP)
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if says in line:
            return seen
        assert process.poll() is None, seen
    raise AssertionError(f"no {says!r} in the gateway's log: {seen}")


@pytest.fixture
def running(fleet):
    port = free_port()
    process = start_gateway_process(fleet, port)
    yield process, port
    process.terminate()
    process.wait(10)


def test_a_raised_rooms_cap_applies_on_sighup_with_the_counters_kept(fleet, running):
    process, port = running
    acme = BBBApiClient(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", TENANT_SECRETS["acme"])
    acme.createMeeting("one", "One")
    acme.createMeeting("two", "Two")
    assert rooms_refused(acme, "three") == "maxRoomsReached"  # plan small: 2 rooms
    fleet_file = fleet.inventory / FLEET_FILE
    fleet_file.write_text(fleet_file.read_text().replace(
        "acme: {plan: small, region: eu, bbb_server: bbb-1.test}",
        "acme: {plan: small, region: eu, bbb_server: bbb-1.test, limits: {max_rooms: 3}}"))
    hang_up_and_wait(process, "reloaded: 3 tenants")
    assert rooms_refused(acme, "three") is None  # the third room, by the new override
    assert rooms_refused(acme, "four") == "maxRoomsReached"  # the two rooms before still count
    assert process.poll() is None  # the same process throughout


def test_a_tenant_added_to_the_inventory_and_secrets_is_served_after_sighup(fleet, running):
    process, port = running
    newcomer = BBBApiClient(f"http://127.0.0.1:{port}/t/newcomer/bigbluebutton/api",
                            "newcomer-tenant-secret-0123456")
    assert rooms_refused(newcomer, "hello") == "checksumError"  # unknown: as a wrong secret
    fleet_file = fleet.inventory / FLEET_FILE
    fleet_file.write_text(fleet_file.read_text() + "  newcomer: {plan: small, region: eu, bbb_server: bbb-2.test}\n")
    fleet.secrets.write_text(fleet.secrets.read_text().replace(
        "tenant_secrets:\n", "tenant_secrets:\n  newcomer: newcomer-tenant-secret-0123456\n"))
    hang_up_and_wait(process, "reloaded: 4 tenants")
    assert rooms_refused(newcomer, "hello") is None
    assert "newcomer~hello" in fleet.standins["bbb-2.test"].state.meetings


def test_an_inventory_that_does_not_load_is_refused_on_sighup_and_the_running_one_kept(fleet, running):
    process, port = running
    acme = BBBApiClient(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", TENANT_SECRETS["acme"])
    acme.createMeeting("one", "One")
    fleet_file = fleet.inventory / FLEET_FILE
    fleet_file.write_text(fleet_file.read_text().replace("max_rooms: 2", "max_rooms: -5"))
    log = hang_up_and_wait(process, "reload refused")
    assert "fleet.yml" in log and "max_rooms" in log
    assert rooms_refused(acme, "two") is None  # still served, with the caps it had
    assert rooms_refused(acme, "three") == "maxRoomsReached"
    os.kill(process.pid, 0)  # alive


def test_a_secrets_file_others_can_read_is_refused_on_sighup(fleet, running):
    process, port = running
    fleet.secrets.chmod(0o644)
    log = hang_up_and_wait(process, "reload refused")
    assert str(fleet.secrets) in log
    assert TENANT_SECRETS["acme"] not in log
    acme = BBBApiClient(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", TENANT_SECRETS["acme"])
    assert rooms_refused(acme, "one") is None


def test_it_tells_systemd_ready_once_listening(fleet, tmp_path):
    """NOTIFY_SOCKET as systemd sets it for Type=notify: READY=1 arrives, and by then the API answers."""
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(20)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "meetfleet.gateway.main", "--inventory", str(fleet.inventory),
             "--secrets", str(fleet.secrets), "--listen", f"127.0.0.1:{port}"],
            env={**os.environ, "NOTIFY_SOCKET": address}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert listener.recv(256) == b"READY=1"
            socket.create_connection(("127.0.0.1", port), timeout=1).close()  # listening when it said so
        finally:
            process.terminate()
            process.wait(10)
