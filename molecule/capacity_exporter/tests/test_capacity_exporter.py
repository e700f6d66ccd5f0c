"""Verify roles/capacity_exporter (with base's firewall) in the lab container."""

import re
import time

import pytest

CONFIG = "/etc/meetfleet-exporter"
VENV = "/opt/meetfleet-exporter/venv"
STANDIN_UNIT = "molecule-bbb-standin"
# capacity_exporter_shards: 2 (converge.yml): one unit and port per shard; sha256 of the name
# modulo 2 puts bbb-ca-1.test in shard 0 and bbb-eu-1.test (with its tenant) in shard 1.
UNITS = ["meetfleet-exporter-0", "meetfleet-exporter-1"]
PORTS = [9840, 9841]
SHARD_OF = {"bbb-ca-1.test": 0, "bbb-eu-1.test": 1}


def _metrics(host, port: int = 9841) -> str:
    # The password is read from its file inside the container, never put on a command line.
    return host.check_output(
        "python3 -c \"import base64, sys, urllib.request as u; "
        f"r = u.Request('http://127.0.0.1:{port}/metrics', headers={{'Authorization': 'Basic ' + "
        "base64.b64encode(('prometheus:' + open('/root/molecule-metrics-password').read().strip())"
        ".encode()).decode()}); "
        "print(u.urlopen(r, timeout=5).read().decode())\""
    )


def _value(metrics: str, name: str, server: str) -> float | None:
    match = re.search(rf'^{name}{{[^}}]*server="{re.escape(server)}"[^}}]*}} (\S+)$', metrics, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.fixture(scope="module")
def standin(host):
    """The BBB API test server (shipped in the same distribution) answers for bbb-eu-1.test."""
    host.run(f"systemctl stop {STANDIN_UNIT}; systemctl reset-failed {STANDIN_UNIT}")
    started = host.run(
        f"systemd-run --unit={STANDIN_UNIT} {VENV}/bin/meetfleet-bbb-standin --bind 127.0.0.1 --port 8090 "
        "--secret-file /root/molecule-bbb-secret-bbb-eu-1.test --meetings 2 --participants 7 "
        "--tenant bakery-collective"
    )
    assert started.rc == 0, started.stderr
    yield
    host.run(f"systemctl stop {STANDIN_UNIT}")


@pytest.mark.parametrize("unit", UNITS)
def test_service_active_enabled_unprivileged(host, unit):
    service = host.service(unit)
    assert service.is_running and service.is_enabled
    user = host.check_output(f"systemctl show -p User --value {unit}")
    assert user == "meetfleet-exporter"
    assert host.user("meetfleet-exporter").shell == "/usr/sbin/nologin"
    pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
    assert host.check_output(f"ps -o user= -p {pid}") == "meetfleet-exporter"
    # whatever it started (the parsing workers' forkserver, once an answer came) runs as the same user
    assert set(host.check_output(f"ps -o user= --ppid {pid}").split()) <= {"meetfleet-exporter"}
    assert not host.file("/etc/systemd/system/meetfleet-exporter.service").exists  # the single unit went


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_hardened(host, unit):
    props = dict(line.split("=", 1) for line in host.check_output(
        f"systemctl show {unit} -p NoNewPrivileges -p ProtectSystem -p PrivateTmp -p ProtectHome "
        "-p RestrictSUIDSGID -p CapabilityBoundingSet").splitlines())
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["PrivateTmp"] == "yes"
    assert props["ProtectHome"] == "yes"
    assert props["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("port", PORTS)
def test_listening(host, port):
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


@pytest.mark.parametrize("port", PORTS)
def test_metrics_require_basic_auth(host, port):
    url = f"http://127.0.0.1:{port}/metrics"
    out = host.run(f"python3 -c \"import urllib.request as u; u.urlopen('{url}', timeout=5)\"")
    assert out.rc != 0 and "401" in out.stderr


def test_metrics_report_the_inventorys_servers(host):
    assert _value(_metrics(host, 9841), "meetfleet_server_capacity_load_units", "bbb-eu-1.test") == 100
    # bbb-ca-1.invalid does not resolve: reported down, which is the honest answer.
    assert _value(_metrics(host, 9840), "meetfleet_server_up", "bbb-ca-1.test") == 0


def test_each_server_is_reported_by_exactly_one_shard(host):
    payloads = [_metrics(host, port) for port in PORTS]
    for server, shard in SHARD_OF.items():
        reported = [i for i, m in enumerate(payloads)
                    if _value(m, "meetfleet_server_capacity_load_units", server) is not None]
        assert reported == [shard], (server, reported)


def test_polls_a_bbb_api_with_the_secret_from_the_secrets_file(host, standin):
    deadline = time.monotonic() + 40
    while True:
        metrics = _metrics(host)
        if _value(metrics, "meetfleet_server_up", "bbb-eu-1.test") == 1 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert _value(metrics, "meetfleet_server_up", "bbb-eu-1.test") == 1
    assert _value(metrics, "meetfleet_server_meetings", "bbb-eu-1.test") == 2
    assert 'meetfleet_tenant_meetings{' in metrics and 'tenant="bakery-collective"' in metrics
    # parsed by worker processes, which work inside the unit's sandbox (forkserver, semaphores)
    assert len(host.check_output("pgrep -u meetfleet-exporter").split()) > len(UNITS)


def test_secrets_file_mode_and_content(host):
    secrets = host.file(f"{CONFIG}/secrets.yml")
    assert (secrets.user, secrets.group, secrets.mode) == ("meetfleet-exporter", "meetfleet-exporter", 0o600)
    for server in ("bbb-eu-1.test", "bbb-ca-1.test"):
        secret = host.file(f"/root/molecule-bbb-secret-{server}").content_string.strip()
        assert f'"{server}": "{secret}"' in secrets.content_string


def test_secrets_not_in_process_list_unit_or_journal(host):
    visible = "\n".join([
        host.check_output("ps -eo args"),
        *(host.check_output(f"systemctl show {unit}") for unit in UNITS),
        host.check_output("journalctl --no-pager -o cat"),
    ])
    for name in ("bbb-eu-1.test", "bbb-ca-1.test"):
        assert host.file(f"/root/molecule-bbb-secret-{name}").content_string.strip() not in visible
    assert host.file("/root/molecule-metrics-password").content_string.strip() not in visible


def test_inventory_copied_without_vault_files(host):
    assert host.file(f"{CONFIG}/inventory/hosts.yml").contains("bbb-eu-1.test")
    assert host.file(f"{CONFIG}/inventory/host_vars/bbb-ca-1.test.yml").exists
    assert not host.file(f"{CONFIG}/inventory/group_vars/all/vault.yml").exists
    assert host.run(f"grep -r vault_canary {CONFIG}").rc == 1


def test_web_config_holds_a_hash_not_the_password(host):
    web = host.file(f"{CONFIG}/web.yml")
    password = host.file("/root/molecule-metrics-password").content_string.strip()
    assert password not in web.content_string
    assert re.search(r'password_sha256: "[0-9a-f]{64}"', web.content_string)
    assert (web.user, web.group, web.mode) == ("root", "meetfleet-exporter", 0o640)


def test_code_is_not_writable_by_the_service(host):
    assert host.file(f"{VENV}/bin/meetfleet-exporter").user == "root"
    assert host.run(f"runuser -u meetfleet-exporter -- test -w {VENV}/bin").rc != 0


def test_firewall_declares_the_exporter_port_for_allowed_sources_only(host):
    ruleset = host.check_output("nft list chain inet meetfleet input")
    rules = re.findall(r"^\s*(.*?)(tcp|udp) dport (\S+) accept", ruleset, re.MULTILINE)
    assert sorted((s.strip(), p, port) for s, p, port in rules) == [
        ("", "tcp", "22"),
        ("ip saddr 192.0.2.10", "tcp", "9840"),
        ("ip saddr 192.0.2.10", "tcp", "9841"),
    ]
