"""What the bbb role leaves on a lab host (lab mode), checked inside the container.

The expected values are the scenario's inventory (molecule.yml); the secrets are read
from the files the scenario made them in, never printed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from defusedxml import ElementTree

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
PROPERTIES = "/etc/bigbluebutton/bbb-web.properties"
TURN_XML = "/etc/bigbluebutton/turn-stun-servers.xml"
BEANS = "{http://www.springframework.org/schema/beans}"


def _secret(name: str) -> str:
    return (EPHEMERAL / name).read_text().split()[0]


def _properties(host) -> dict[str, str]:
    lines = host.file(PROPERTIES).content_string.splitlines()
    pairs = [line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")]
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key appears twice in {PROPERTIES}: {keys}"
    return dict(pairs)


def test_properties_hold_the_inventory_values(host):
    props = _properties(host)
    assert props["securitySalt"] == _secret("bbb_secret")
    assert props["defaultMaxUsers"] == "150"  # was 45 before Ansible
    assert props["defaultMeetingDuration"] == "240"
    assert props["supportedChecksumAlgorithms"] == "sha256,sha512"
    assert props["defaultGuestPolicy"] == "ASK_MODERATOR"
    assert props["allowRequestsWithoutSession"] == "true"
    assert props["bigbluebutton.web.serverURL"] == "https://meetfleet-molecule-bbb"


def test_properties_keep_lines_the_role_does_not_manage(host):
    assert _properties(host)["bigbluebutton.web.logoutURL"] == "default"


@pytest.mark.parametrize("path", [PROPERTIES, TURN_XML])
def test_files_with_secrets_are_readable_by_bbb_web_only(host, path):
    f = host.file(path)
    assert f.user == "root"
    assert f.group == "bigbluebutton"
    assert f.mode == 0o640


def test_turn_xml_lists_the_inventory_turn_servers(host):
    root = ElementTree.fromstring(host.file(TURN_XML).content_string)
    beans = {b.get("id"): b for b in root.findall(f"{BEANS}bean")}

    def args(bean_id):
        return [a.get("value") for a in beans[bean_id].findall(f"{BEANS}constructor-arg")]

    turn_secret = _secret("turn_secret")
    assert args("stun0") == ["stun:turn-eu-1.lab:3478"]
    assert args("turns0") == [turn_secret, "turns:turn-eu-1.lab:5349?transport=tcp", "86400"]
    assert args("turn0") == [turn_secret, "turn:turn-eu-1.lab:3478?transport=udp", "86400"]
    assert args("stun1") == ["stun:turn-ca-1.lab:3479"]
    assert args("turns1") == [turn_secret, "turns:turn-ca-1.lab:443?transport=tcp", "86400"]
    service = beans["stunTurnService"]
    refs = {p.get("name"): [r.get("bean") for r in p.iter(f"{BEANS}ref")] for p in service}
    assert refs["stunServers"] == ["stun0", "stun1"]
    assert refs["turnServers"] == ["turns0", "turn0", "turns1", "turn1"]


def test_firewall_opens_what_bbb_declares(host):
    ruleset = host.check_output("nft list ruleset")
    assert "udp dport 16384-32768 accept" in ruleset
    assert "tcp dport 443 accept" in ruleset
    assert "tcp dport 80 accept" in ruleset
    # the lab stand-in's API port, declared only because fleet_lab is true
    assert "tcp dport 8090 accept" in ruleset


def test_lab_mode_installs_no_bbb(host):
    # Lab mode never pretends: no BBB package, no bbb-conf, nothing restarted.
    assert not host.file("/usr/bin/bbb-conf").exists
    assert not host.package("bigbluebutton").is_installed


def test_standin_secret_file_is_private(host):
    f = host.file("/etc/meetfleet-bbb-api-standin/secret")
    assert (f.user, f.group, f.mode) == ("root", "meetfleet-bbb-api-standin", 0o640)
    assert f.content_string.strip() == _secret("bbb_secret")


def test_standin_answers_with_the_host_secret(host):
    assert host.service("meetfleet-bbb-api-standin").is_running
    assert host.service("meetfleet-bbb-api-standin").is_enabled
    checksum = hashlib.sha256(("getMeetings" + _secret("bbb_secret")).encode()).hexdigest()
    url = f"http://127.0.0.1:8090/bigbluebutton/api/getMeetings?checksum={checksum}"
    fetch = f"import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('{url}', timeout=5).read().decode())"
    body = host.check_output(f'python3 -c "{fetch}"')
    assert "<returncode>SUCCESS</returncode>" in body
    assert "noMeetings" in body  # side_effect put the stand-in back to no meetings
