"""The gateway signs in to Redis as its own ACL user, the password from the secrets file:
never on the command line (ps shows it to every user of the host), never in a message."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import urllib.request

import pytest
from bbbctl import BBBApiClient

from tests.gateway.conftest import TENANT_SECRETS, free_port, running_redis

PASSWORD = "redis-password-for-the-test-0123456789"
# What roles/gateway/templates/redis-gateway.conf.j2 sets: no default user, the gateway's
# user limited to its keys, its password as a hash.
ACL = ["--user", "default", "off",
       "--user", "meetfleet-gateway", "on", "#" + hashlib.sha256(PASSWORD.encode()).hexdigest(),
       "~meetfleet:gateway:*", "resetchannels", "-@all", "+@read", "+@write", "+@scripting", "+@transaction", "+ping",
       "+select",
       "-@dangerous"]


def _with_redis_password(fleet, password: str | None) -> None:
    text = fleet.secrets.read_text().split("redis_password:")[0]
    fleet.secrets.write_text(text + (f"redis_password: {password!r}\n" if password is not None else ""))


def _gateway(fleet, redis: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "meetfleet.gateway.main", "--inventory", str(fleet.inventory),
                             "--secrets", str(fleet.secrets), "--listen", f"127.0.0.1:{free_port()}",
                             "--redis", redis], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _exit(process: subprocess.Popen) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, stderr


@pytest.fixture
def acl_redis(tmp_path):
    with running_redis(tmp_path, *ACL) as port:
        yield port


def test_with_the_password_from_the_secrets_file_the_gateway_keeps_its_counters_in_redis(fleet, acl_redis):
    _with_redis_password(fleet, PASSWORD)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "meetfleet.gateway.main", "--inventory", str(fleet.inventory),
         "--secrets", str(fleet.secrets), "--listen", f"127.0.0.1:{port}",
         "--redis", f"redis://meetfleet-gateway@127.0.0.1:{acl_redis}/0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", timeout=1).read()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.1)
        BBBApiClient(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", TENANT_SECRETS["acme"]).createMeeting(
            "room", "Room")
        keys = subprocess.run(["redis-cli", "-p", str(acl_redis), "--user", "meetfleet-gateway", "--no-auth-warning",
                               "--pass", PASSWORD, "--scan", "--pattern", "meetfleet:gateway:*"],
                              capture_output=True, text=True, timeout=30, check=True).stdout.split()
        assert "meetfleet:gateway:rooms:acme" in keys, keys  # the reservation went through Redis
        # An end frees the room in one transaction (MULTI/EXEC): the ACL must allow it.
        BBBApiClient(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", TENANT_SECRETS["acme"]).end("room")
        rooms = subprocess.run(["redis-cli", "-p", str(acl_redis), "--user", "meetfleet-gateway", "--no-auth-warning",
                                "--pass", PASSWORD, "ZCARD", "meetfleet:gateway:rooms:acme"],
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        assert rooms == "0"
        with open(f"/proc/{process.pid}/cmdline", "rb") as cmdline:
            assert PASSWORD.encode() not in cmdline.read()
    finally:
        process.terminate()
        assert process.wait(10) == 0
    assert PASSWORD not in process.stderr.read()


def test_a_wrong_or_missing_password_exits_1_without_showing_it(fleet, acl_redis):
    url = f"redis://meetfleet-gateway@127.0.0.1:{acl_redis}/0"
    for password in ("a-wrong-password-0123456789", None):
        _with_redis_password(fleet, password)
        code, stderr = _exit(_gateway(fleet, url))
        assert code == 1, stderr
        assert "cannot reach Redis or sign in" in stderr
        assert "a-wrong-password" not in stderr and "Traceback" not in stderr


def test_a_password_in_the_url_is_refused_before_connecting_and_not_echoed(fleet, acl_redis):
    code, stderr = _exit(_gateway(fleet, f"redis://meetfleet-gateway:{PASSWORD}@127.0.0.1:{acl_redis}/0"))
    assert code == 2, stderr
    assert "put it in" in stderr and "as redis_password" in stderr
    assert PASSWORD not in stderr


@pytest.mark.parametrize("value", ["''", "[a, b]", "12"])
def test_a_redis_password_that_is_not_a_string_is_refused_naming_the_key(fleet, value):
    fleet.secrets.write_text(fleet.secrets.read_text() + f"redis_password: {value}\n")
    code, stderr = _exit(_gateway(fleet, "redis://127.0.0.1:1/0"))
    assert code == 2, stderr
    assert f"{fleet.secrets}: redis_password: must be a non-empty string" in stderr
