"""The gateway signs in to Redis as its own ACL user, the password from the secrets file:
never on the command line (ps shows it to every user of the host), never in a message."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from bbbctl import BBBApiClient

from tests.gateway.conftest import TENANT_SECRETS, free_port, run_gateway, running_redis, start_gateway_process

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


def _run_with_redis(fleet, redis: str) -> tuple[int, str]:
    result = run_gateway("--inventory", str(fleet.inventory), "--secrets", str(fleet.secrets),
                         "--listen", f"127.0.0.1:{free_port()}", "--redis", redis)
    return result.returncode, result.stderr


def _redis_cli(port: int, *command: str) -> str:
    """redis-cli as the gateway's user (the password on its command line: a test's throwaway one)."""
    return subprocess.run(["redis-cli", "-p", str(port), "--user", "meetfleet-gateway", "--no-auth-warning",
                           "--pass", PASSWORD, *command], capture_output=True, text=True, timeout=30, check=True).stdout


@pytest.fixture
def acl_redis(tmp_path):
    with running_redis(tmp_path, *ACL) as port:
        yield port


def test_with_the_password_from_the_secrets_file_the_gateway_keeps_its_counters_in_redis(fleet, acl_redis):
    _with_redis_password(fleet, PASSWORD)
    port = free_port()
    process = start_gateway_process(fleet, port, "--redis", f"redis://meetfleet-gateway@127.0.0.1:{acl_redis}/0")
    try:
        acme = BBBApiClient(f"http://127.0.0.1:{port}/t/acme/bigbluebutton/api", TENANT_SECRETS["acme"])
        acme.createMeeting("room", "Room")
        keys = _redis_cli(acl_redis, "--scan", "--pattern", "meetfleet:gateway:*").split()
        assert "meetfleet:gateway:rooms:acme" in keys, keys  # the reservation went through Redis
        # An end frees the room in one transaction (MULTI/EXEC): the ACL must allow it.
        acme.end("room")
        rooms = _redis_cli(acl_redis, "ZCARD", "meetfleet:gateway:rooms:acme").strip()
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
        code, stderr = _run_with_redis(fleet, url)
        assert code == 1, stderr
        assert "cannot reach Redis or sign in" in stderr
        assert "a-wrong-password" not in stderr and "Traceback" not in stderr


def test_a_password_in_the_url_is_refused_before_connecting_and_not_echoed(fleet, acl_redis):
    code, stderr = _run_with_redis(fleet, f"redis://meetfleet-gateway:{PASSWORD}@127.0.0.1:{acl_redis}/0")
    assert code == 2, stderr
    assert "put it in" in stderr and "as redis_password" in stderr
    assert PASSWORD not in stderr


@pytest.mark.parametrize("value", ["''", "[a, b]", "12"])
def test_a_redis_password_that_is_not_a_string_is_refused_naming_the_key(fleet, value):
    fleet.secrets.write_text(fleet.secrets.read_text() + f"redis_password: {value}\n")
    code, stderr = _run_with_redis(fleet, "redis://127.0.0.1:1/0")
    assert code == 2, stderr
    assert f"{fleet.secrets}: redis_password: must be a non-empty string" in stderr
