"""Verify roles/gateway in the lab container: the service, its secrets, Redis, nginx with TLS
and a real call through nginx -> gateway -> BBB API stand-in."""

import json
import re
import time

import pytest

CONFIG = "/etc/meetfleet-gateway"
VENV = "/opt/meetfleet-gateway/venv"
STANDIN_UNIT = "molecule-bbb-standin"
LIVE = "/etc/letsencrypt/live/gateway.test"
# pebble's root (it makes a new one each start): what a client must trust for the issued chain
CERT = "/root/molecule-pebble-root.pem"
SERVED_FINGERPRINT = ("openssl s_client -connect 127.0.0.1:443 -servername gateway.test </dev/null 2>/dev/null"
                      " | openssl x509 -noout -fingerprint -sha256")
REDIS_PASSWORD_FILE = f"{CONFIG}/redis-password"

# Signs a BBB call with the secret read from a file in the container (never on a command
# line), calls it through nginx with the test certificate as the only trusted CA, prints the answer.
CALL = r"""
import hashlib, ssl, sys, urllib.request
tenant, call, secret_file, query, cafile = sys.argv[1:6]
secret = open(secret_file).read().strip()
checksum = hashlib.sha1((call + query + secret).encode()).hexdigest()
context = ssl.create_default_context(cafile=cafile)
url = f"https://gateway.test/t/{tenant}/bigbluebutton/api/{call}?{query}&checksum={checksum}"
print(urllib.request.urlopen(url, context=context, timeout=10).read().decode())
"""


def _call(host, tenant: str, call: str, signer: str, query: str) -> str:
    secret_file = f"/root/molecule-gateway-secret-{signer}"
    out = host.run(f"python3 /root/molecule-call.py {tenant} {call} {secret_file} '{query}' {CERT}")
    assert out.rc == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module", autouse=True)
def pebble_root(host):
    """The ACME test CA's root, from pebble's management API, for the clients to trust."""
    fetched = host.run("python3 -c \"import ssl, urllib.request as u; "
                       "print(u.urlopen('https://localhost:15000/roots/0', timeout=10, "
                       "context=ssl.create_default_context(cafile='/etc/pebble/ca.pem')).read().decode())\""
                       f" > {CERT}")
    assert fetched.rc == 0, fetched.stderr


@pytest.fixture(scope="module")
def standin(host):
    """The BBB API test server (shipped in the same distribution) answers for bbb-eu-1.test."""
    host.run(f"systemctl stop {STANDIN_UNIT}; systemctl reset-failed {STANDIN_UNIT}")
    written = host.run(f"cat > /root/molecule-call.py <<'PYEOF'\n{CALL}\nPYEOF")
    assert written.rc == 0, written.stderr
    started = host.run(
        f"systemd-run --unit={STANDIN_UNIT} {VENV}/bin/meetfleet-bbb-standin --bind 127.0.0.1 --port 8090 "
        "--secret-file /root/molecule-bbb-secret-bbb-eu-1.test")
    assert started.rc == 0, started.stderr
    yield
    host.run(f"systemctl stop {STANDIN_UNIT}")


def test_units_active_and_enabled(host):
    for unit in ("meetfleet-gateway", "redis-server", "nginx"):
        service = host.service(unit)
        assert service.is_running and service.is_enabled, unit


def test_gateway_runs_unprivileged_and_sandboxed(host):
    pid = host.check_output("systemctl show -p MainPID --value meetfleet-gateway")
    assert host.check_output(f"ps -o user= -p {pid}") == "meetfleet-gateway"
    assert host.user("meetfleet-gateway").shell == "/usr/sbin/nologin"
    props = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show meetfleet-gateway -p NoNewPrivileges -p ProtectSystem -p PrivateTmp -p ProtectHome "
        "-p CapabilityBoundingSet").splitlines())
    assert props == {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                     "ProtectHome": "yes", "CapabilityBoundingSet": ""}
    assert host.run(f"runuser -u meetfleet-gateway -- test -w {VENV}/bin").rc != 0


def test_secrets_file_mode_owner_and_content(host):
    secrets = host.file(f"{CONFIG}/secrets.yml")
    assert (secrets.user, secrets.group, secrets.mode) == ("meetfleet-gateway", "meetfleet-gateway", 0o600)
    content = secrets.content_string
    for tenant in ("bakery-collective", "food.coop"):
        secret = host.file(f"/root/molecule-gateway-secret-{tenant}").content_string.strip()
        assert f'"{tenant}": "{secret}"' in content
    bbb = host.file("/root/molecule-bbb-secret-bbb-eu-1.test").content_string.strip()
    assert f'"bbb-eu-1.test": "{bbb}"' in content


def test_secrets_not_in_process_list_unit_or_journal(host):
    visible = "\n".join([host.check_output("ps -eo args"), host.check_output("systemctl show meetfleet-gateway"),
                         host.check_output("journalctl --no-pager -o cat")])
    for name in ("gateway-secret-bakery-collective", "gateway-secret-food.coop", "bbb-secret-bbb-eu-1.test"):
        assert host.file(f"/root/molecule-{name}").content_string.strip() not in visible
    assert "test-only-redis-admin-password" not in visible
    assert host.file(REDIS_PASSWORD_FILE).content_string.strip() not in visible
    assert "--redis redis://meetfleet-gateway@127.0.0.1:6379/0" in host.check_output("ps -eo args")


def test_inventory_copied_without_vault_files(host):
    assert host.file(f"{CONFIG}/inventory/hosts.yml").contains("bbb-eu-1.test")
    assert not host.file(f"{CONFIG}/inventory/group_vars/all/vault.yml").exists
    assert host.run(f"grep -r vault_canary {CONFIG}").rc == 1


def test_redis_on_loopback_only_with_its_acl(host):
    listening = host.check_output("ss -Htlnp | grep redis-server")
    addresses = sorted({line.split()[3] for line in listening.splitlines()})
    assert addresses == ["127.0.0.1:6379"], listening
    # No default user: a client that does not sign in can do nothing.
    assert "NOAUTH" in host.run("redis-cli GET meetfleet:gateway:where").stdout
    # The gateway's user, with the password made on the host: its own keys only, no server commands.
    password_file = host.file(REDIS_PASSWORD_FILE)
    assert (password_file.user, password_file.mode) == ("root", 0o600)
    password = password_file.content_string.strip()
    assert len(password) == 64
    assert f'redis_password: "{password}"' in host.file(f"{CONFIG}/secrets.yml").content_string
    as_gateway = f"REDISCLI_AUTH=$(cat {REDIS_PASSWORD_FILE}) redis-cli --user meetfleet-gateway"
    assert "NOPERM" in host.run(f"{as_gateway} SET other:key 1").stdout
    assert "NOPERM" in host.run(f"{as_gateway} CONFIG GET bind").stdout
    assert host.check_output(f"{as_gateway} SET meetfleet:gateway:molecule-probe 1") == "OK"
    host.run(f"{as_gateway} DEL meetfleet:gateway:molecule-probe")
    # Both passwords are kept as hashes only.
    conf = host.file("/etc/redis/meetfleet-gateway.conf")
    assert "test-only-redis-admin-password" not in conf.content_string
    assert password not in conf.content_string
    assert (conf.user, conf.group, conf.mode) == ("root", "redis", 0o640)
    admin = host.run("REDISCLI_AUTH=test-only-redis-admin-password redis-cli --user meetfleet-admin CONFIG GET bind")
    assert "127.0.0.1" in admin.stdout, admin.stdout + admin.stderr


def test_api_only_on_loopback_nginx_tls_outside(host):
    assert host.socket("tcp://127.0.0.1:8095").is_listening
    assert not host.socket("tcp://0.0.0.0:8095").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening
    handshake = host.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername gateway.test -CAfile {CERT} "
                         "-verify_return_error -brief")
    assert handshake.rc == 0 and re.search(r"Protocol version: TLSv1\.[23]", handshake.stderr), handshake.stderr


def test_firewall_declaration_for_base(host):
    declared = json.loads(host.file("/root/molecule-gateway-firewall-ports.json").content_string)
    assert declared == [{"port": 443, "proto": "tcp"}, {"port": 80, "proto": "tcp"},  # 80: ACME's HTTP-01
                        {"port": 9936, "proto": "tcp", "sources": ["192.0.2.10"]}]


def test_certificate_was_issued_by_the_acme_ca(host):
    issued = host.check_output(f"openssl x509 -in {LIVE}/cert.pem -noout -issuer -ext subjectAltName")
    assert "Pebble Intermediate CA" in issued and "DNS:gateway.test" in issued
    renewal = host.file("/etc/letsencrypt/renewal/gateway.test.conf").content_string
    assert "server = https://localhost:14000/dir" in renewal
    assert "authenticator = standalone" in renewal
    assert host.service("certbot.timer").is_enabled
    # nginx serves exactly that certificate, and nothing listens on 80 between renewals
    assert host.check_output(SERVED_FINGERPRINT) == host.check_output(
        f"openssl x509 -in {LIVE}/cert.pem -noout -fingerprint -sha256")
    assert not host.socket("tcp://0.0.0.0:80").is_listening


def test_create_through_nginx_with_the_tenants_secret_and_refused_with_anothers(host, standin):
    query = "meetingID=molecule-room&name=Molecule+room"
    deadline = time.monotonic() + 40
    while True:  # the gateway marks the stand-in up at its next poll (every 2 s here)
        answer = _call(host, "bakery-collective", "create", "bakery-collective", query)
        if "<returncode>SUCCESS</returncode>" in answer or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert "<returncode>SUCCESS</returncode>" in answer, answer
    assert "<meetingID>molecule-room</meetingID>" in answer  # the tenant sees its own ID
    # Upstream (asked directly with the server's secret), the meeting is namespaced by tenant.
    upstream = host.check_output("python3 -c \"import hashlib; s=open('/root/molecule-bbb-secret-bbb-eu-1.test')"
                                 ".read().strip(); print(hashlib.sha256(('getMeetings'+s).encode()).hexdigest())\"")
    listing = host.check_output(f"python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:8090/"
                                f"bigbluebutton/api/getMeetings?checksum={upstream}', timeout=5).read().decode())\"")
    assert "bakery-collective~molecule-room" in listing
    # An end goes through Redis's transaction commands (MULTI/EXEC), which its ACL must allow.
    ended = _call(host, "bakery-collective", "end", "bakery-collective", "meetingID=molecule-room")
    assert "<returncode>SUCCESS</returncode>" in ended, ended

    refused = _call(host, "bakery-collective", "create", "food.coop", "meetingID=other-room&name=Other")
    assert "<returncode>FAILED</returncode>" in refused and "<messageKey>checksumError</messageKey>" in refused


def test_metrics_count_the_calls(host, standin):
    metrics = host.check_output("python3 -c \"import urllib.request as u; "
                                "print(u.urlopen('http://127.0.0.1:9936/metrics', timeout=5).read().decode())\"")
    assert re.search(r'^meetfleet_gateway_server_up\{server="bbb-eu-1.test"\} 1', metrics, re.MULTILINE)


def test_systemd_reload_rereads_the_configuration_in_the_same_process(host, standin):
    """Type=notify (a start waits until the gateway is ready) and ExecReload (SIGHUP): the role's
    handler for a changed inventory or secrets file; the process, and so its counters, stay."""
    assert host.check_output("systemctl show -p Type --value meetfleet-gateway") == "notify"
    before = host.check_output("systemctl show -p MainPID --value meetfleet-gateway")
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    assert host.run("systemctl reload meetfleet-gateway").rc == 0
    deadline = time.monotonic() + 20
    while "reloaded:" not in (journal := host.check_output(
            f"journalctl -u meetfleet-gateway --since '{since}' --no-pager -o cat")):
        assert time.monotonic() < deadline, journal
        time.sleep(0.5)
    assert "reloaded: 2 tenants, 1 servers" in journal
    assert host.check_output("systemctl show -p MainPID --value meetfleet-gateway") == before
    assert host.service("meetfleet-gateway").is_running
    answer = _call(host, "bakery-collective", "isMeetingRunning", "bakery-collective", "meetingID=molecule-room")
    assert "<returncode>SUCCESS</returncode>" in answer, answer


# Last: it renews the certificate (testinfra runs a file's tests in order).
def test_a_renewal_reaches_nginx_by_a_reload(host):
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/meetfleet-gateway")
    assert hook.mode == 0o755 and host.run(f"sh -n {hook.path}").rc == 0
    before = host.check_output(SERVED_FINGERPRINT)
    master = host.check_output("systemctl show --property=MainPID --value nginx")
    # Without a terminal certbot renew first sleeps up to 8 minutes (spreading the load on the CA).
    renew = host.run("certbot renew --non-interactive --no-random-sleep-on-renew --force-renewal "
                     "--cert-name gateway.test")
    assert renew.rc == 0, renew.stdout + renew.stderr
    live = host.check_output(f"openssl x509 -in {LIVE}/cert.pem -noout -fingerprint -sha256")
    assert live != before
    deadline = time.monotonic() + 10  # the reload's new workers take over
    while host.check_output(SERVED_FINGERPRINT) != live and time.monotonic() < deadline:
        time.sleep(0.5)
    assert host.check_output(SERVED_FINGERPRINT) == live
    assert host.check_output("systemctl show --property=MainPID --value nginx") == master  # reloaded, not restarted
