"""The BBB API gateway on the lab's gw.lab (playbooks/gateway.yml), called from this machine as
a member's Greenlight would: through nginx with TLS (published on 127.0.0.1:19443), with the
tenant's own secret from the lab vault, by a third-party BBB client (bbbctl). Behind it the
gateway reaches the tenant's BBB server (the lab's BBB API stand-in on bbb-eu-1.lab) by name
over the lab network, and holds the tenant to its plan.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from bbbctl import ApiError, BBBApiClient

from meetfleet.fleet import load_inventory
from meetfleet.fleet.model import Gateway
from tests.conftest import LAB_INVENTORY, REPO

pytestmark = [pytest.mark.lab, pytest.mark.slow]

if shutil.which("podman") is None:
    pytest.skip("podman is not installed (bash scripts/setup.sh installs it)", allow_module_level=True)

BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1"}
GATEWAY = "gw.lab"
# Both on bbb-eu-1.lab, whose stand-in also runs their synthetic load (meetings that count too).
TENANT, OTHER = "printshop-cooperative", "bakery-collective"
PREFIX = "lab-gateway-test-"


def _run(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def clients(applied_lab: Path) -> dict[str, BBBApiClient]:
    # Trust exactly gw.lab's certificate (the lab's self-signed one); it names gw.lab, not
    # the loopback address it is published on.
    certificate = _run("podman", "exec", GATEWAY, "cat", f"/etc/letsencrypt/live/{GATEWAY}/fullchain.pem",
                       timeout=60)
    assert certificate.returncode == 0, certificate.stderr
    context = ssl.create_default_context(cadata=certificate.stdout)
    context.check_hostname = False
    vault = yaml.safe_load((LAB_INVENTORY / "group_vars" / "all" / "vault.yml").read_text())
    made = {tenant: BBBApiClient("https://127.0.0.1:19443/t/" + tenant + "/bigbluebutton/api",
                                 vault[Gateway.secret_variable(tenant)], ssl_context=context)
            for tenant in (TENANT, OTHER)}
    yield made
    for client in made.values():  # the rooms this test made, on the lab's stand-in
        for meeting in client.getMeetings():
            if (meeting.findtext("meetingID") or "").startswith(PREFIX):
                client.end(meeting.findtext("meetingID"))


def _ids(client: BBBApiClient) -> list[str]:
    return sorted(m.findtext("meetingID") or "" for m in client.getMeetings())


def test_a_tenant_creates_through_the_gateway_and_only_it_sees_its_meeting(clients) -> None:
    tenant, other = clients[TENANT], clients[OTHER]
    created = tenant.createMeeting(PREFIX + "room", "Lab gateway test", duration=10_000)
    assert created.findtext("returncode") == "SUCCESS"
    assert PREFIX + "room" in _ids(tenant)
    assert PREFIX + "room" not in _ids(other)
    fleet = load_inventory(LAB_INVENTORY)
    _, _, longest = fleet.tenant_caps(fleet.tenants[TENANT])
    info = tenant.getMeetingInfo(PREFIX + "room")
    assert int(info.findtext("duration") or 0) == longest  # the plan's longest meeting, not 10,000
    with pytest.raises(ApiError):  # the other tenant cannot end it
        other.end(PREFIX + "room")
    assert PREFIX + "room" in _ids(tenant)


def test_a_call_signed_with_another_secret_is_refused(clients) -> None:
    intruder = BBBApiClient(clients[TENANT].api, clients[OTHER].secret, ssl_context=clients[TENANT].ssl)
    with pytest.raises(ApiError) as refused:
        intruder.getMeetings()
    assert refused.value.tree.findtext("messageKey") == "checksumError"


def test_the_rooms_cap_holds_on_the_lab(clients) -> None:
    tenant = clients[TENANT]
    fleet = load_inventory(LAB_INVENTORY)
    _, max_rooms, _ = fleet.tenant_caps(fleet.tenants[TENANT])
    refusal = None
    for number in range(max_rooms + 1):  # the tenant's running rooms (its synthetic load too) count
        try:
            tenant.createMeeting(f"{PREFIX}cap-{number}", "Cap")
        except ApiError as exc:
            refusal = exc.tree
            break
    assert refusal is not None, f"{max_rooms + 1} rooms were created on a plan of {max_rooms}"
    assert refusal.findtext("messageKey") == "maxRoomsReached"
    running = _ids(tenant)
    assert len(running) >= max_rooms
    ours = [meeting for meeting in running if meeting.startswith(PREFIX)]
    assert ours, "the stand-in's synthetic load alone filled the plan: nothing of the test's to end"
    tenant.end(ours[0])
    tenant.createMeeting(f"{PREFIX}after-end", "After")  # a room freed is a room again


def test_nginx_answers_only_the_api(clients) -> None:
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen("https://127.0.0.1:19443/", context=clients[TENANT].ssl, timeout=30)
    assert missing.value.code == 404
