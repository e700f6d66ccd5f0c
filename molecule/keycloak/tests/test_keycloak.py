"""Verify roles/keycloak in the lab container: PostgreSQL, Java, the sandboxed unit, nginx with
TLS, the management port, the declared firewall ports, and the running server through its
admin API (realm, clients, groups, organizations, the admins) and an OIDC sign-in."""

import json
import shlex
from pathlib import Path

import pytest
import yaml

FLEET = yaml.safe_load((Path(__file__).parents[1] / "vars/fleet.yml").read_text())
# The clients the test fleet's fleet_sso and fleet_tenants must give (docs/sso.md): the tenant
# with a Greenlight of its own, Nextcloud, the shared Greenlight.
CLIENT_IDS = ["bakery-collective", "nextcloud", "shared-greenlight"]
CERT = "/etc/ssl/certs/molecule-sso.pem"
PROBE = "python3 /root/keycloak_probe.py"
# The discovery document through nginx, the test certificate the only trusted CA, TLS 1.2 at least.
DISCOVERY = f"""
import json, ssl, urllib.request
context = ssl.create_default_context(cafile="{CERT}")
context.minimum_version = ssl.TLSVersion.TLSv1_2
answer = urllib.request.urlopen("https://sso.test/realms/meetfleet/.well-known/openid-configuration", context=context)
print(json.dumps({{"issuer": json.load(answer)["issuer"], "hsts": answer.headers["Strict-Transport-Security"]}}))
"""
SECRET_FILES = ["keycloak-admin-password", "keycloak-db-password", "user-password",
                *(f"client-secret-{client}" for client in CLIENT_IDS)]


def _json(host, command: str):
    out = host.run(command)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def _api(host, path: str):
    return _json(host, f"{PROBE} get {shlex.quote(path)}")


@pytest.fixture(scope="module")
def realm(host):
    """What the role's filter computed from vars/fleet.yml, as converge recorded it."""
    return json.loads(host.file("/root/molecule-keycloak-realm.json").content_string)


def test_the_filter_computed_the_realm_from_the_fleet(realm):
    sso = FLEET["fleet_sso"]
    assert (realm["realm"], realm["public_url"], realm["password_policy"]) == (
        sso["realm"], sso["public_url"], sso["password_policy"])
    assert [c["client_id"] for c in realm["clients"]] == CLIENT_IDS
    assert sorted(o["alias"] for o in realm["organizations"]) == sorted(FLEET["fleet_tenants"])
    assert {c["client_id"]: c["secret_variable"] for c in realm["clients"]} == {
        "bakery-collective": "vault_sso_client_secret_bakery_collective",
        "nextcloud": "vault_sso_client_secret_nextcloud",
        "shared-greenlight": "vault_sso_client_secret_shared_greenlight"}


def test_java_21_from_debian(host):
    assert host.package("openjdk-21-jre-headless").is_installed
    assert 'version "21.' in host.run("java -version").stderr


def test_postgresql_database_and_role(host):
    assert host.service("postgresql").is_running
    def psql(query: str, db: str = "postgres") -> str:
        return host.check_output(f"runuser -u postgres -- psql -tAc {shlex.quote(query)} {db}")

    assert psql("SELECT 1 FROM pg_roles WHERE rolname = 'keycloak' AND NOT rolsuper") == "1"
    assert psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'keycloak'") == "keycloak"
    # Keycloak made its schema there.
    assert psql("SELECT to_regclass('public.realm') IS NOT NULL", "keycloak") == "t"
    for socket in host.socket.get_listening_sockets():
        if socket.endswith(":5432"):
            assert "127.0.0.1" in socket or "::1" in socket, socket


def test_distribution_from_the_mirror_checked_and_built_once(host):
    version = host.check_output("readlink /opt/keycloak/current").rsplit("-", 1)[-1]
    assert host.file(f"/opt/keycloak/dist/keycloak-{version}.zip").exists
    assert host.check_output("cat /opt/keycloak/current/lib/quarkus/meetfleet-build-args").splitlines() == [
        "--db=postgres", "--health-enabled=true", "--metrics-enabled=true"]
    assert host.file("/opt/keycloak/current/bin/kc.sh").user == "root"


def test_unit_runs_unprivileged_and_sandboxed(host):
    service = host.service("keycloak")
    assert service.is_running and service.is_enabled
    pid = host.check_output("systemctl show -p MainPID --value keycloak")
    assert host.check_output(f"ps -o user= -p {pid}") == "keycloak"
    assert host.user("keycloak").shell == "/usr/sbin/nologin"
    props = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show keycloak -p NoNewPrivileges -p ProtectSystem -p PrivateTmp -p ProtectHome "
        "-p PrivateDevices -p CapabilityBoundingSet -p RestrictSUIDSGID -p SystemCallFilter "
        "-p ProtectKernelTunables -p ReadWritePaths").splitlines())
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["PrivateTmp"] == "yes"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateDevices"] == "yes"
    assert props["RestrictSUIDSGID"] == "yes"
    assert props["ProtectKernelTunables"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert props["SystemCallFilter"]
    assert props["ReadWritePaths"].endswith("/data")
    # The service writes only its data directory; code and configuration are root's.
    assert host.run("runuser -u keycloak -- test -w /opt/keycloak/current/lib").rc != 0
    assert host.run("runuser -u keycloak -- test -w /opt/keycloak/current/data").rc == 0
    conf = host.file("/etc/keycloak/keycloak.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "keycloak", 0o640)
    assert "hostname=https://sso.test" in conf.content_string
    assert "proxy-headers=xforwarded" in conf.content_string


def test_bootstrap_admin_replaced_by_the_permanent_one(host):
    assert not host.file("/etc/keycloak/bootstrap-admin.env").exists
    users = _api(host, "master/users?briefRepresentation=true")
    assert [user["username"] for user in users] == ["meetfleet-admin"]
    roles = _api(host, f"master/users/{users[0]['id']}/role-mappings/realm")
    assert "admin" in [role["name"] for role in roles]


def test_management_port_health_and_metrics(host):
    ready = host.check_output("python3 -c \"import urllib.request; "
                              "print(urllib.request.urlopen('http://127.0.0.1:9000/health/ready').read().decode())\"")
    assert json.loads(ready)["status"] == "UP"
    metrics = host.check_output("python3 -c \"import urllib.request; "
                                "print(urllib.request.urlopen('http://127.0.0.1:9000/metrics').read().decode())\"")
    assert "jvm_memory_used_bytes" in metrics
    # Scraped by the monitoring host: Keycloak binds its ports to every address (base's
    # firewall opens only 443 to all and 9000 to the monitoring host).
    assert host.socket("tcp://0.0.0.0:9000").is_listening


def test_nginx_tls_site_with_the_public_issuer(host):
    assert host.service("nginx").is_running
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    answer = _json(host, f"python3 - <<'PYEOF'\n{DISCOVERY}\nPYEOF")
    assert answer["issuer"] == "https://sso.test/realms/meetfleet"
    assert answer["hsts"].startswith("max-age=")


STATUS = f"""
import ssl, sys, urllib.error, urllib.request
context = ssl.create_default_context(cafile="{CERT}")
for path in sys.argv[1:]:
    try:
        print(path, urllib.request.urlopen("https://sso.test" + path, context=context, timeout=10).status)
    except urllib.error.HTTPError as error:
        print(path, error.code)
"""


def test_the_master_realm_is_refused_from_outside_the_admins_addresses(host):
    """Keycloak's master realm (its console, admin API, sign-in) through nginx only from
    keycloak_master_allowed_sources; the cooperative's realm, its admin console included, for all."""
    written = host.run(f"cat > /root/molecule-status.py <<'PYEOF'\n{STATUS}\nPYEOF")
    assert written.rc == 0
    paths = ["/admin/master/console/", "/realms/master/.well-known/openid-configuration",
             "/admin/realms/master/users", "/realms/meetfleet/.well-known/openid-configuration",
             "/admin/meetfleet/console/"]
    status = dict(line.split() for line in host.check_output(
        "python3 /root/molecule-status.py " + " ".join(paths)).splitlines())
    assert status == {"/admin/master/console/": "403", "/realms/master/.well-known/openid-configuration": "403",
                      "/admin/realms/master/users": "403",
                      "/realms/meetfleet/.well-known/openid-configuration": "200", "/admin/meetfleet/console/": "200"}
    site = host.file("/etc/nginx/sites-enabled/keycloak").content_string
    assert "allow 192.0.2.20;" in site and "deny all;" in site


def test_declared_firewall_ports(host):
    declared = json.loads(host.file("/root/molecule-keycloak-firewall-ports.json").content_string)
    assert declared == [{"port": 443, "proto": "tcp"},
                        {"port": 9000, "proto": "tcp", "sources": ["192.0.2.10"]}]


def test_realm_settings(host, realm):
    server = _api(host, realm["realm"])
    assert server["displayName"] == realm["display_name"]
    assert server["registrationAllowed"] is realm["registration_allowed"] is False
    assert server["verifyEmail"] is realm["verify_email"] is True
    assert server["passwordPolicy"] == realm["password_policy"]
    assert server["bruteForceProtected"] is True
    assert server["organizationsEnabled"] is True
    smtp = server["smtpServer"]
    assert (smtp["host"], smtp["port"], smtp["from"]) == ("smtp.test", "25", "sso@sso.test")
    assert smtp.get("auth") in ("false", None)


def test_clients_from_the_inventory(host, realm):
    clients = {c["clientId"]: c for c in _api(host, "meetfleet/clients")}
    for wanted in realm["clients"]:
        client = clients[wanted["client_id"]]
        assert client["redirectUris"] == wanted["redirect_uris"]
        assert sorted(client["webOrigins"]) == sorted(wanted["web_origins"])
        assert client["rootUrl"] == wanted["root_url"]
        assert client["publicClient"] is False
        assert client["standardFlowEnabled"] is True
        assert client["directAccessGrantsEnabled"] is False
        assert client["implicitFlowEnabled"] is False
        # The secret is the vault's (compared in the container, never printed).
        secret = _api(host, f"meetfleet/clients/{client['id']}/client-secret")["value"]
        expected = host.file(f"/root/molecule-client-secret-{wanted['client_id']}").content_string.strip()
        assert secret == expected, f"{wanted['client_id']}: the client's secret is not the vault's"


def test_organizations_and_admin_groups(host, realm):
    organizations = {o["alias"]: o for o in _api(host, "meetfleet/organizations?briefRepresentation=false")}
    groups = [g["name"] for g in _api(host, "meetfleet/groups")]
    assert sorted(organizations) == sorted(o["alias"] for o in realm["organizations"])
    for wanted in realm["organizations"]:
        organization = organizations[wanted["alias"]]
        assert organization["name"] == wanted["name"]
        assert organization["description"] == wanted["description"]
        assert organization["enabled"] is True
        assert [d["name"] for d in organization["domains"]] == wanted["domains"]
        assert wanted["admin_group"] in groups


def test_a_departed_tenants_client_and_organization_are_removed_and_nothing_else(host, realm):
    """side_effect.yml applied the role with departing-coop, then without it: its Greenlight's
    client and its organization are gone; the hand-made client and every remaining tenant's
    are kept; the departed tenant's groups stay (its users are the member's)."""
    before = json.loads(host.file("/root/molecule-keycloak-before-removal.json").content_string)
    assert "departing-coop" in before["clients"] and "departing-coop" in before["organizations"]
    assert "hand-made-client" in before["clients"]
    clients = {c["clientId"]: c for c in _api(host, "meetfleet/clients")}
    organizations = {o["alias"] for o in _api(host, "meetfleet/organizations")}
    assert "departing-coop" not in clients and "departing-coop" not in organizations
    assert "hand-made-client" in clients  # not the role's: left alone
    assert {c["client_id"] for c in realm["clients"]} <= set(clients)
    assert organizations == {o["alias"] for o in realm["organizations"]}
    assert all(clients[c["client_id"]]["attributes"]["meetfleet-managed"] == "true" for c in realm["clients"])
    assert "departing-coop-members" in [g["name"] for g in _api(host, "meetfleet/groups")]


def _as_tenant_admin(host, tenant: str, method: str, path: str, body: object = None) -> tuple[int, object]:
    extra = f" {shlex.quote(json.dumps(body))}" if body is not None else ""
    answer = _json(host, f"{PROBE} as-tenant-admin {shlex.quote(tenant)} {method} {shlex.quote(path)}{extra}")
    return answer["status"], answer["body"]


def test_the_tenants_admins_hold_the_query_roles_only(host, realm):
    for organization in realm["organizations"]:
        group = next(g for g in _api(host, "meetfleet/groups") if g["name"] == organization["admin_group"])
        mappings = _api(host, f"meetfleet/groups/{group['id']}/role-mappings")
        assert mappings.get("realmMappings", []) == []
        assert {name: sorted(r["name"] for r in m["mappings"]) for name, m in mappings["clientMappings"].items()} == {
            "realm-management": ["query-groups", "query-users"]}
    assert _api(host, "meetfleet")["adminPermissionsEnabled"] is True


def test_a_tenant_admin_administers_the_tenants_users_and_nothing_else(host):
    """Signed in as bakery-collective's admin: users are made into its members group, edited
    and given a new password; food.coop's users, the organizations, clients and realm stay out of reach."""
    own, other = "bakery-collective", "food.coop"
    _json(host, f"{PROBE} tenant-admin {own}")
    _json(host, f"{PROBE} member {other} food-member")
    for name in ("bread-maker", "no-group", "intruder"):
        _json(host, f"{PROBE} drop {name}")

    def create(name: str, groups: list[str] | None) -> int:
        user = {"username": name, "email": f"{name}@bakery.test", "enabled": True, "emailVerified": True,
                **({"groups": groups} if groups is not None else {})}
        return _as_tenant_admin(host, own, "POST", "meetfleet/users", user)[0]

    assert create("bread-maker", [f"/{own}-members"]) == 201
    assert create("intruder", [f"/{other}-members"]) == 403
    assert create("no-group", None) == 403
    assert create("intruder", [f"/{own}-admins"]) == 403  # its admins are the cooperative's to name

    status, users = _as_tenant_admin(host, own, "GET", "meetfleet/users?briefRepresentation=true")
    assert status == 200
    assert [u["username"] for u in users] == ["bread-maker"]  # not alice, not food.coop's member
    own_id = next(u["id"] for u in users)
    other_id = _api(host, "meetfleet/users?exact=true&username=food-member")[0]["id"]
    new_password = {"type": "password", "value": "a-new-password-for-the-test-42", "temporary": True}
    assert _as_tenant_admin(host, own, "PUT", f"meetfleet/users/{own_id}/reset-password", new_password)[0] == 204
    assert _as_tenant_admin(host, own, "PUT", f"meetfleet/users/{own_id}", {"firstName": "Bread"})[0] == 204
    assert _as_tenant_admin(host, own, "GET", f"meetfleet/users/{other_id}")[0] == 403
    assert _as_tenant_admin(host, own, "PUT", f"meetfleet/users/{other_id}/reset-password", new_password)[0] == 403
    assert _as_tenant_admin(host, own, "DELETE", f"meetfleet/users/{other_id}")[0] == 403
    for path in ("meetfleet/organizations", "meetfleet/clients", "meetfleet/roles"):
        assert _as_tenant_admin(host, own, "GET", path)[0] == 403, path
    assert _as_tenant_admin(host, own, "PUT", "meetfleet", {"registrationAllowed": True})[0] == 403
    assert _api(host, "meetfleet")["registrationAllowed"] is False
    assert _as_tenant_admin(host, own, "DELETE", f"meetfleet/users/{own_id}")[0] == 204


@pytest.mark.parametrize("client_id", CLIENT_IDS)
def test_oidc_authorization_code_sign_in(host, realm, client_id):
    client = next(c for c in realm["clients"] if c["client_id"] == client_id)
    _json(host, f"{PROBE} ensure-user")
    result = _json(host, f"{PROBE} signin {shlex.quote(client['client_id'])} {shlex.quote(client['redirect_uris'][0])}")
    assert result["redirected_to"] == client["redirect_uris"][0]
    issuer = f"{realm['public_url']}/realms/{realm['realm']}"
    for kind in ("id_token", "access_token"):
        claims = result[kind]
        assert claims["iss"] == issuer, kind
        audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        assert client["client_id"] in audience, kind
        assert claims["azp"] == client["client_id"]
    assert result["id_token"]["preferred_username"] == "alice"


def test_no_secret_in_process_list_unit_or_journal(host):
    secrets = [host.file(f"/root/molecule-{name}").content_string.strip() for name in SECRET_FILES]
    exposed = host.run("ps -eo args; systemctl show keycloak nginx postgresql; journalctl --no-pager -o cat").stdout
    for index, secret in enumerate(secrets):
        assert len(secret) >= 16
        assert secret not in exposed, f"the {SECRET_FILES[index]} secret shows in ps, systemctl show or the journal"
