"""Verify roles/greenlight in lab mode, after the side effect (free-school left): the two
remaining instances (bakery-collective's own, the shared one) are configured for real,
end to end through nginx to each instance's port; what the departed one had is gone but
its database; the others kept their numbers, env files and sites. No container runs: the
image cannot be pulled in the lab (roles/greenlight/README.md)."""

import json
import shlex

import pytest

CONFIG = "/etc/meetfleet-greenlight"
STATE = "/var/lib/meetfleet-greenlight"
INSTANCES = {"bakery-collective": ["bakery.rooms.test", "backstube.rooms.test"], "shared": ["rooms.test"]}
DEPARTED = "free-school"


def allocation(host):
    return json.loads(host.file(f"{STATE}/allocation.json").content_string)


def env_of(host, name):
    lines = host.file(f"{CONFIG}/{name}.env").content_string.splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def run(host, command):
    result = host.run(command)
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout


def test_packages_from_debian_are_installed(host):
    for name in ("podman", "postgresql", "redis-server", "nginx"):
        assert host.package(name).is_installed, name


def test_each_instance_keeps_its_own_port_and_redis_database(host):
    numbers = allocation(host)
    assert set(numbers) == set(INSTANCES)
    assert len({n["port"] for n in numbers.values()}) == len(numbers)
    assert len({n["redis_db"] for n in numbers.values()}) == len(numbers)
    assert all(5050 <= n["port"] < 5150 and 1 <= n["redis_db"] < 64 for n in numbers.values())
    # what they had before free-school left: unchanged
    before = json.loads(host.file("/root/molecule-greenlight-allocation-before.json").content_string)
    assert set(before) == {*INSTANCES, DEPARTED}
    assert {name: before[name] for name in INSTANCES} == numbers
    assert host.file(f"{STATE}/allocation.json").mode == 0o600


def test_env_files_are_root_only_and_say_what_greenlight_needs(host):
    numbers = allocation(host)
    for name, sites in INSTANCES.items():
        f = host.file(f"{CONFIG}/{name}.env")
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
        env = env_of(host, name)
        assert env["PORT"] == str(numbers[name]["port"])
        assert env["REDIS_URL"] == f"redis://127.0.0.1:6379/{numbers[name]['redis_db']}"
        assert env["OPENID_CONNECT_ISSUER"] == "https://sso.test/realms/coop"
        assert env["OPENID_CONNECT_REDIRECT"] == f"https://{sites[0]}/"
        assert env["OPENID_CONNECT_UID_FIELD"] == "sub"
        assert env["OPENID_CONNECT_LOGOUT_PATH"] == "/protocol/openid-connect/logout"
        assert len(env["SECRET_KEY_BASE"]) == 128
        assert env["SMTP_SERVER"] == "mail.test" and env["SMTP_PASSWORD"] == "test-only-smtp-password"
    assert host.file(CONFIG).mode == 0o700
    bakery, shared = env_of(host, "bakery-collective"), env_of(host, "shared")
    assert bakery["BIGBLUEBUTTON_ENDPOINT"] == "https://gw.test/t/bakery-collective/bigbluebutton/api/"
    assert bakery["BIGBLUEBUTTON_SECRET"] == "test-only-bakery-gateway-secret"
    assert bakery["OPENID_CONNECT_CLIENT_ID"] == "bakery-collective"
    assert bakery["OPENID_CONNECT_CLIENT_SECRET"] == "test-only-bakery-client-secret"
    # the shared instance: the realm's shared-greenlight client, meetings counted against `individuals`
    assert shared["BIGBLUEBUTTON_ENDPOINT"] == "https://gw.test/t/individuals/bigbluebutton/api/"
    assert shared["BIGBLUEBUTTON_SECRET"] == "test-only-individuals-gateway-secret"
    assert shared["OPENID_CONNECT_CLIENT_ID"] == "shared-greenlight"
    assert bakery["SECRET_KEY_BASE"] != shared["SECRET_KEY_BASE"]


def test_each_instance_reaches_its_own_database_with_its_password_and_no_other(host):
    urls = {name: env_of(host, name)["DATABASE_URL"] for name in INSTANCES}
    for url in urls.values():
        user = url.split("//")[1].split(":")[0]
        assert run(host, f"psql {shlex.quote(url)} -tAc 'SELECT current_user'").strip() == user
        run(host, f"psql {shlex.quote(url)} -c 'CREATE TABLE molecule_probe (id int); DROP TABLE molecule_probe'")
    # bakery's credentials against the shared database: refused (CONNECT taken from PUBLIC)
    crossed = urls["bakery-collective"].rsplit("/", 1)[0] + "/greenlight_shared"
    refused = host.run(f"psql {shlex.quote(crossed)} -tAc 'SELECT 1'")
    assert refused.rc != 0 and "permission denied" in refused.stderr
    wrong = urls["shared"].replace(urls["shared"].split(":")[2].split("@")[0], "not-the-password")
    assert host.run(f"psql {shlex.quote(wrong)} -tAc 'SELECT 1'").rc != 0


def test_redis_listens_on_loopback_with_a_database_for_each(host):
    assert run(host, "redis-cli CONFIG GET databases").split() == ["databases", "64"]
    for name in INSTANCES:
        db = allocation(host)[name]["redis_db"]
        assert run(host, f"redis-cli -n {db} PING").strip() == "PONG"
    listening = run(host, "ss -Htlnp 'sport = :6379'")
    assert "127.0.0.1:6379" in listening and "0.0.0.0:6379" not in listening


def test_units_are_valid_and_run_the_pinned_image_with_the_instance_settings(host):
    image = host.file(f"{CONFIG}/image").content_string
    assert "GREENLIGHT_IMAGE=docker.io/bigbluebutton/greenlight@sha256:" + "0" * 64 in image
    for name in INSTANCES:
        unit = f"/etc/systemd/system/greenlight-{name}.service"
        run(host, f"systemd-analyze verify --man=no {unit}")
        text = host.file(unit).content_string
        assert f"--env-file {CONFIG}/{name}.env" in text
        assert f"--name greenlight-{name} --network host" in text
        assert f"EnvironmentFile={CONFIG}/image" in text
        assert "--pull never ${GREENLIGHT_IMAGE}" in text
        # lab mode: installed, not enabled (no image to start)
        assert not host.service(f"greenlight-{name}").is_enabled


def test_each_site_serves_its_certificate_and_proxies_to_its_instance(host):
    """A stand-in listener on each instance's port (the container cannot run here) answers
    with its name: nginx must route each site name, over TLS with that site's certificate,
    to its own instance, and redirect plain HTTP to HTTPS."""
    numbers = allocation(host)
    for name in INSTANCES:
        port = numbers[name]["port"]
        run(host, f"mkdir -p /tmp/probe-{name} && echo {name} > /tmp/probe-{name}/index.html && "
                  f"(cd /tmp/probe-{name} && setsid python3 -m http.server {port} --bind 127.0.0.1 "
                  f">/dev/null 2>&1 &) && for i in $(seq 50); do ss -Htln 'sport = :{port}' | grep -q . && break; "
                  "sleep 0.1; done")
    try:
        for name, sites in INSTANCES.items():
            cert = f"/etc/letsencrypt/live/{sites[0]}/fullchain.pem"
            for site in sites:
                body = run(host, f"curl -sS --fail --cacert {cert} --resolve {site}:443:127.0.0.1 "
                                 f"https://{site}/index.html") if site == sites[0] else run(
                    host, f"curl -sS --fail -k --resolve {site}:443:127.0.0.1 https://{site}/index.html")
                assert body.strip() == name, site
                redirect = run(host, f"curl -sS -o /dev/null -w '%{{http_code}} %{{redirect_url}}' "
                                     f"--resolve {site}:80:127.0.0.1 http://{site}/x")
                assert redirect == f"301 https://{site}/x"
            headers = run(host, f"curl -sS -D - -o /dev/null --cacert {cert} --resolve {sites[0]}:443:127.0.0.1 "
                                f"https://{sites[0]}/index.html")
            assert "strict-transport-security: max-age=15768000" in headers.lower()
    finally:
        host.run("pkill -f 'http.server 50' || true")


def test_the_departed_instance_is_gone_but_its_database_is_kept_for_the_export(host):
    assert not host.file(f"{CONFIG}/{DEPARTED}.env").exists
    assert not host.file(f"/etc/systemd/system/greenlight-{DEPARTED}.service").exists
    assert not host.file(f"/etc/nginx/sites-available/greenlight-{DEPARTED}").exists
    assert not host.file(f"/etc/nginx/sites-enabled/greenlight-{DEPARTED}").exists
    databases = run(host, "runuser -u postgres -- psql -tAc 'SELECT datname FROM pg_database'").split()
    assert {"greenlight_bakery_collective", "greenlight_shared", "greenlight_free_school"} <= set(databases)
    assert host.file(f"{STATE}/{DEPARTED}/storage").is_directory
    refused = host.run("curl -sS -k --resolve school.rooms.test:443:127.0.0.1 https://school.rooms.test/")
    assert "free-school" not in refused.stdout


def test_the_others_were_not_touched_when_it_left(host):
    run(host, "sha256sum --check --quiet /root/molecule-greenlight-before.sha256")


@pytest.mark.parametrize("port", [80, 443])
def test_nginx_listens_where_the_role_declares_for_base(host, port):
    declared = json.loads(host.file("/root/molecule-greenlight-declared.json").content_string)
    ports = [{key: str(value) for key, value in entry.items()} for entry in declared["firewall_ports"]]
    assert {"port": str(port), "proto": "tcp"} in ports
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening
