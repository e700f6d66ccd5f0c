"""bigbluebutton-js (npm, a BBB client nobody here wrote) drives the gateway against the BBB
API stand-ins: create, join, getMeetings, end, the rooms and users caps reached and refused,
a room freed by an end, and another tenant's secret refused (tests/gateway/js/drive.js)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gateway.conftest import TENANT_SECRETS

JS = Path(__file__).parent / "js"
NPM_TIMEOUT = 180


@pytest.fixture(scope="module")
def js_driver() -> Path:
    """The driver with its locked dependencies: `npm ci` here when set-up has not run it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm not installed (Debian: apt-get install nodejs npm): the bigbluebutton-js test needs them")
    if not (JS / "node_modules" / "bigbluebutton-js" / "package.json").exists():
        try:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS)], capture_output=True,
                                  text=True, timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"npm ci --prefix {JS} took more than {NPM_TIMEOUT} s (is the npm registry reachable?)")
        assert done.returncode == 0, f"npm ci --prefix {JS} failed:\n{done.stderr[-2000:]}"
    return JS / "drive.js"


def drive(driver: Path, endpoint: str, secret: str, rooms: int, users: int, foreign: str | None = None):
    env = {**os.environ, "MEETFLEET_JS_SECRET": secret}
    if foreign:
        env["MEETFLEET_JS_FOREIGN_SECRET"] = foreign
    done = subprocess.run(["node", str(driver), endpoint, str(rooms), str(users)], capture_output=True, text=True,
                          timeout=60, env=env)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_bigbluebutton_js_through_the_gateway_reaches_each_cap(fleet, gateway, js_driver):
    # acme is on small: 2 rooms, 4 concurrent users. The endpoint as Greenlight is given it.
    endpoint = gateway.url("acme") + "/"
    rc, result, stderr = drive(js_driver, endpoint, TENANT_SECRETS["acme"], rooms=2, users=4,
                               foreign=TENANT_SECRETS["bakery"])
    assert rc == 0, stderr
    assert result["ids"] == ["js-room-1", "js-room-2"]  # the tenant sees its own IDs
    keys = {step["what"]: (step["returncode"], step.get("messageKey")) for step in result["seen"]}
    assert keys["create past the rooms cap"] == ("FAILED", "maxRoomsReached")
    assert keys["join past the users cap"] == ("FAILED", "maxConcurrentUsersReached")
    assert keys["create once a room is free"][0] == "SUCCESS"
    assert keys["getMeetings signed with another secret"] == ("FAILED", "checksumError")
    # Every meeting was ended through the gateway: nothing left upstream.
    assert all(not standin.state.meetings for standin in fleet.standins.values())


def test_the_driver_fails_when_the_gateway_does_not_hold_the_cap(fleet, gateway, js_driver):
    # The same run told the cap is 3 rooms must fail at the third create: the driver is not
    # a script that passes whatever it is answered.
    rc, result, _ = drive(js_driver, gateway.url("acme"), TENANT_SECRETS["acme"], rooms=3, users=4)
    assert rc == 1
    assert result["error"].startswith("create js-room-3: expected SUCCESS")
    secret_free = json.dumps(result)
    assert TENANT_SECRETS["acme"] not in secret_free


def test_bigbluebutton_js_sees_and_changes_only_its_own_recordings(fleet, gateway, js_driver):
    # bakery records a meeting first (bbbctl): its recordID is what acme's front end tries to touch
    from bbbctl import BBBApiClient

    bakery = BBBApiClient(gateway.url("bakery"), TENANT_SECRETS["bakery"])
    bakery.createMeeting("theirs", "Bakery's", record="true")
    bakery.end("theirs")
    held = fleet.standins["bbb-1.test"].state.recordings
    (foreign,) = held
    env = {**os.environ, "MEETFLEET_JS_SECRET": TENANT_SECRETS["acme"], "MEETFLEET_JS_FOREIGN_RECORD": foreign}
    done = subprocess.run(["node", str(js_driver.parent / "recordings.js"), gateway.url("acme") + "/"],
                          capture_output=True, text=True, timeout=60, env=env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr
    assert result["meetings"] == ["js-recorded"]  # its own meetingID, not bakery's nor the namespace
    keys = {step["what"]: (step["returncode"], step.get("messageKey")) for step in result["seen"]}
    for what in ("publish the other tenant's", "delete the other tenant's", "update the other tenant's"):
        assert keys[what] == ("FAILED", "notFound")
    assert keys["getRecordings once deleted"] == ("SUCCESS", "noRecordings")
    # the servers saw acme's own changes only; bakery's recording is as it was
    seen = {call: sum(s.httpd.seen.get(call, 0) for s in fleet.standins.values())
            for call in ("publishRecordings", "deleteRecordings", "updateRecordings")}
    assert seen == {"publishRecordings": 1, "deleteRecordings": 1, "updateRecordings": 0}
    assert (held[foreign].state, held[foreign].metadata) == ("published", {"tenant": "bakery"})
    assert held[result["ownId"]].state == "deleted"
