"""Verify roles/coturn (with base's firewall) in the lab container."""

import json
import re
import socket
import subprocess

import pytest

CONTAINER = "meetfleet-molecule-coturn"
SECRET_FILE = "/root/molecule-coturn-secret"
# What converge.yml declares through coturn's defaults, plus base's SSH port.
EXPECTED_RULES = {
    ("tcp", "22"),
    ("udp", "3478"), ("tcp", "3478"),
    ("udp", "5349"), ("tcp", "5349"),
    ("udp", "40000-40999"),
}


@pytest.fixture(scope="module")
def secret(host):
    return host.file(SECRET_FILE).content_string.strip()


def _uclient(host, secret: str, peer: str, seconds: int) -> str:
    # TURN REST credentials derived from the shared secret, as BBB derives them; relay to PEER:3480.
    result = host.run(
        f"timeout {seconds} turnutils_uclient -W {secret} -r 3480 -n 1 -m 1 -l 100 -e {peer} 127.0.0.1"
    )
    return result.stdout + result.stderr


def test_coturn_enabled_and_running(host):
    coturn = host.service("coturn")
    assert coturn.is_enabled and coturn.is_running


@pytest.mark.parametrize("spec", ["udp://127.0.0.1:3478", "tcp://127.0.0.1:3478", "tcp://127.0.0.1:5349",
                                  "udp://127.0.0.1:5349"])
def test_coturn_listens(host, spec):
    # Without listening-ip, coturn binds each interface address rather than 0.0.0.0.
    assert host.socket(spec).is_listening


@pytest.mark.parametrize("port", [3478, 5349])
def test_coturn_reachable_through_the_firewall(port):
    out = subprocess.run(["podman", "inspect", CONTAINER], capture_output=True, text=True, check=True, timeout=30)
    address = next(iter(json.loads(out.stdout)[0]["NetworkSettings"]["Networks"].values()))["IPAddress"]
    with socket.create_connection((address, port), timeout=3):
        pass


def test_configuration_values(host, secret):
    conf = host.file("/etc/turnserver.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "turnserver", 0o640)
    lines = set(conf.content_string.splitlines())
    for line in ("use-auth-secret", f"static-auth-secret={secret}", "realm=turn.lab.test",
                 "listening-port=3478", "tls-listening-port=5349", "min-port=40000", "max-port=40999",
                 "cert=/etc/coturn/tls/fullchain.pem", "pkey=/etc/coturn/tls/privkey.pem",
                 "no-cli", "no-multicast-peers", "no-tlsv1", "no-tlsv1_1",
                 "allowed-peer-ip=172.31.255.254"):
        assert line in lines, line
    denied = {line.split("=", 1)[1] for line in lines if line.startswith("denied-peer-ip=")}
    for network in ("10.0.0.0-10.255.255.255", "172.16.0.0-172.31.255.255", "192.168.0.0-192.168.255.255",
                    "127.0.0.0-127.255.255.255", "169.254.0.0-169.254.255.255", "100.64.0.0-100.127.255.255",
                    "224.0.0.0-239.255.255.255", "::1", "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"):
        assert network in denied, network


def test_tls_key_readable_by_coturn_only(host):
    key = host.file("/etc/coturn/tls/privkey.pem")
    assert (key.user, key.group, key.mode) == ("root", "turnserver", 0o640)
    assert host.file("/etc/coturn/tls").mode == 0o750


def test_tls_handshake_serves_the_configured_certificate(host):
    out = host.check_output("openssl s_client -connect 127.0.0.1:5349 -brief </dev/null 2>&1")
    assert "CN = turn.lab.test" in out or "CN=turn.lab.test" in out
    assert re.search(r"Protocol version: TLSv1\.[23]", out)


def test_stun_binding_answers(host):
    out = host.check_output("turnutils_stunclient 127.0.0.1")
    assert "UDP reflexive addr: 127.0.0.1:" in out


@pytest.mark.parametrize("peer", ["10.1.2.3", "192.168.1.1", "172.31.255.253", "100.64.1.1", "169.254.169.254",
                                  "127.0.0.1"])
def test_relaying_into_private_networks_is_refused(host, secret, peer):
    out = _uclient(host, secret, peer, 8)
    assert "error 403 (Forbidden IP)" in out, out[-500:]


def test_allowed_exception_is_relayed(host, secret):
    # Same credentials, an address inside 172.16/12 listed in coturn_allowed_peer_ip_ranges: the
    # allocation and channel bind succeed and data is sent (nothing answers at that address).
    out = _uclient(host, secret, "172.31.255.254", 8)
    assert "403" not in out and "ERROR" not in out, out[-500:]
    assert re.search(r"tot_send_msgs=[1-9]", out), out[-500:]


def test_wrong_secret_gets_no_allocation(host):
    out = _uclient(host, "not-the-shared-secret", "172.31.255.254", 8)
    assert "Cannot complete Allocation" in out


def test_secret_is_not_on_command_lines_or_in_the_journal(host, secret):
    assert secret not in host.check_output("ps -eo args")
    assert secret not in host.check_output("systemctl show coturn")
    assert secret not in host.check_output("journalctl --no-pager -o cat -u coturn")


def test_firewall_opens_exactly_ssh_and_coturn_ports(host):
    ruleset = host.check_output("nft list chain inet meetfleet input")
    rules = re.findall(r"^\s*(tcp|udp) dport (\S+) accept", ruleset, re.MULTILINE)
    assert len(rules) == len(set(rules))
    assert set(rules) == EXPECTED_RULES
    assert "saddr" not in ruleset


def test_certbot_deploy_hook_is_valid_shell(host):
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/meetfleet-coturn")
    assert hook.mode == 0o755
    assert host.run(f"sh -n {hook.path}").rc == 0
    assert "/etc/letsencrypt/live/turn.lab.test/privkey.pem" in hook.content_string
