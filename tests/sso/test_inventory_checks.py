"""What `meetfleet inventory check` refuses for the single sign-on realm: exit 2, the file,
key and line where the value is written, never a traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet.checks import append, refused
from tests.helpers import edit, run

SSO = "group_vars/all/sso.yml"
TENANTS = "group_vars/all/tenants.yml"


def _ok(inventory: Path) -> None:
    result = run("inventory", "check", "--inventory", str(inventory))
    assert result.exit_code == 0, result.output


def test_the_example_and_lab_inventories_pass() -> None:
    from tests.conftest import EXAMPLE_INVENTORY, LAB_INVENTORY

    _ok(EXAMPLE_INVENTORY)
    _ok(LAB_INVENTORY)


# --- client ids -----------------------------------------------------------------------


def test_an_sso_client_two_tenants_name_is_refused(example_copy: Path) -> None:
    edit(example_copy / TENANTS, "sso_client: free-school-leipzig", "sso_client: bakery-collective")
    refused(
        example_copy,
        TENANTS,
        "fleet_tenants.free-school-leipzig.sso_client",
        "'bakery-collective'",
        "is also the sso_client of tenant 'bakery-collective'",
        line=16,
    )


def test_an_sso_client_two_tenants_without_greenlight_name_is_refused_too(example_copy: Path) -> None:
    # a client id is reserved even before the tenant has a Greenlight of its own
    edit(example_copy / TENANTS, "sso_client: tenants-union-toronto", "sso_client: cafe-montreal")
    refused(example_copy, TENANTS, "fleet_tenants.tenants-union-toronto.sso_client", line=35)


@pytest.mark.parametrize(
    ("client_id", "whose"), [("nextcloud", "Nextcloud"), ("shared-greenlight", "shared Greenlight")]
)
def test_an_sso_client_taking_the_id_of_a_realm_client_is_refused(
    example_copy: Path, client_id: str, whose: str
) -> None:
    edit(example_copy / TENANTS, "sso_client: housing-federation", f"sso_client: {client_id}")
    refused(
        example_copy,
        TENANTS,
        "fleet_tenants.housing-federation.sso_client",
        f"'{client_id}' is the id of",
        whose,
        line=23,
    )


def test_two_client_ids_sharing_a_secret_variable_are_refused(example_copy: Path) -> None:
    edit(example_copy / TENANTS, "sso_client: bakery-collective", "sso_client: bakery.collective")
    edit(example_copy / TENANTS, "sso_client: free-school-leipzig", "sso_client: bakery_collective")
    refused(
        example_copy,
        TENANTS,
        "fleet_tenants.free-school-leipzig.sso_client",
        "vault_sso_client_secret_bakery_collective",
        line=16,
    )


# --- a tenant's Greenlight ------------------------------------------------------------


@pytest.mark.parametrize("host", ["cloud.example.coop", "nowhere.example.coop"])
def test_a_greenlight_host_outside_the_greenlight_group_is_refused(example_copy: Path, host: str) -> None:
    # cloud.example.coop is a host of the inventory, in the nextcloud group only
    edit(
        example_copy / TENANTS,
        "    greenlight: rooms-eu.example.coop\n    sso_client: housing-federation",
        f"    greenlight: {host}\n    sso_client: housing-federation",
    )
    refused(
        example_copy,
        TENANTS,
        "fleet_tenants.housing-federation.greenlight",
        f"'{host}' is not a host in the greenlight group",
        line=22,
    )


@pytest.mark.parametrize(
    ("old", "key", "line"),
    [
        ("    sso_client: free-school-leipzig\n", "fleet_tenants.free-school-leipzig.sso_client", 11),
        (
            "    origin_server_names: [school.rooms-eu.example.coop]\n",
            "fleet_tenants.free-school-leipzig.origin_server_names",
            11,
        ),
    ],
)
def test_a_tenant_greenlight_needs_its_client_id_and_site_names(
    example_copy: Path, old: str, key: str, line: int
) -> None:
    edit(example_copy / TENANTS, old, "")
    refused(example_copy, TENANTS, key, "is required", "its own Greenlight", line=line)


def test_without_fleet_sso_a_greenlight_needs_neither(example_copy: Path) -> None:
    (example_copy / SSO).unlink()
    edit(example_copy / TENANTS, "    sso_client: free-school-leipzig\n", "")
    edit(example_copy / TENANTS, "    origin_server_names: [school.rooms-eu.example.coop]\n", "")
    _ok(example_copy)


# --- https only -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key", "line"),
    [
        ("public_url: https://sso.example.coop", "public_url: http://sso.example.coop", "fleet_sso.public_url", 9),
        (
            "shared_greenlight: https://rooms-eu.example.coop",
            "shared_greenlight: http://rooms-eu.example.coop",
            "fleet_sso.shared_greenlight",
            23,
        ),
        ("  # nextcloud: not given", "  nextcloud: http://cloud.example.coop\n  #", "fleet_sso.nextcloud", 21),
    ],
)
def test_a_public_url_that_is_not_https_is_refused(example_copy: Path, old: str, new: str, key: str, line: int) -> None:
    edit(example_copy / SSO, old, new)
    refused(example_copy, SSO, key, "must be an https:// URL", line=line)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://sso.example.coop/?kc=1", "?query"),
        ("https://admin:pw@sso.example.coop", "credentials"),
        ("https://sso.example.coop/#x", "#fragment"),
        ("ftp://sso.example.coop", "http:// or https://"),
    ],
)
def test_a_public_url_is_a_site_s_base(example_copy: Path, url: str, words: str) -> None:
    edit(example_copy / SSO, "public_url: https://sso.example.coop", f"public_url: {url}")
    refused(example_copy, SSO, "fleet_sso.public_url", words, line=9)


# --- the realm's settings -------------------------------------------------------------


def test_an_smtp_password_value_is_refused_and_never_echoed(example_copy: Path) -> None:
    edit(example_copy / SSO, "    password_variable: vault_sso_smtp_password", "    password: hunter2-secret")
    output = refused(example_copy, SSO, "fleet_sso.smtp", "never the value here", "password_variable", line=14)
    assert "hunter2" not in output


@pytest.mark.parametrize(
    ("old", "new", "key", "words", "line"),
    [
        ("realm: coop", "realm: master", "fleet_sso.realm", "Keycloak's administration realm", 7),
        ("realm: coop", "realm: Coop_Realm", "fleet_sso.realm", "should match pattern", 7),
        ("realm: coop", "realm: 7", "fleet_sso.realm", "valid string", 7),
        ("verify_email: true", 'verify_email: "yes"', "fleet_sso.verify_email", "valid boolean", 11),
        (
            "password_policy: length(12) and notUsername and notEmail",
            "password_policy: length(12) and",
            "fleet_sso.password_policy",
            "Keycloak's syntax",
            12,
        ),
        ("    port: 587", "    port: 70000", "fleet_sso.smtp.port", "less than or equal to 65535", 16),
        ("    port: 587", '    port: "587"', "fleet_sso.smtp.port", "valid integer", 16),
        ("    from: sso@example.coop", "    from: sso", "fleet_sso.smtp.from", "must be a mail address", 17),
        (
            "    starttls: true",
            "    starttls: true\n    ssl: true",
            "fleet_sso.smtp",
            "starttls and ssl are both true",
            14,
        ),
        ("    user: sso@example.coop\n", "", "fleet_sso.smtp", "user and password_variable go together", 14),
        (
            "    password_variable: vault_sso_smtp_password",
            "    password_variable: vault-sso",
            "fleet_sso.smtp.password_variable",
            "should match pattern",
            20,
        ),
        (
            "  registration_allowed: false",
            "  registration_alowed: false",
            "fleet_sso.registration_alowed",
            "is not a known key",
            10,
        ),
    ],
)
def test_a_bad_realm_setting_is_refused_at_its_line(
    example_copy: Path, old: str, new: str, key: str, words: str, line: int
) -> None:
    edit(example_copy / SSO, old, new)
    refused(example_copy, SSO, key, words, line=line)


def test_verify_email_without_smtp_is_refused(example_copy: Path) -> None:
    text = (example_copy / SSO).read_text()
    start, end = text.index("  smtp:\n"), text.index("  # nextcloud")
    (example_copy / SSO).write_text(text[:start] + text[end:])
    refused(example_copy, SSO, "fleet_sso", "verify_email is true but there is no smtp", line=6)


def test_the_required_settings_are_required(example_copy: Path) -> None:
    edit(example_copy / SSO, "  display_name: Example Cooperative\n", "")
    refused(example_copy, SSO, "fleet_sso.display_name", "is required but missing")


def test_two_nextcloud_hosts_need_fleet_sso_nextcloud(example_copy: Path) -> None:
    edit(
        example_copy / "hosts.yml",
        "        cloud.example.coop:\n",
        "        cloud.example.coop:\n        files.example.coop:\n",
    )
    (example_copy / "host_vars/files.example.coop.yml").write_text(
        (example_copy / "host_vars/cloud.example.coop.yml").read_text()
    )
    refused(example_copy, SSO, "fleet_sso.nextcloud", "the nextcloud group has 2 hosts", line=6)
    edit(example_copy / SSO, "  # nextcloud: not given", "  nextcloud: https://files.example.coop\n  #")
    _ok(example_copy)


def test_two_tenants_sharing_a_mail_domain_are_refused(example_copy: Path) -> None:
    edit(
        example_copy / TENANTS,
        "    sso_client: cafe-montreal\n",
        "    sso_client: cafe-montreal\n    sso_domains: [coop.example.org]\n",
    )
    line = append(example_copy / TENANTS, "    sso_domains: [coop.example.org]\n")
    refused(
        example_copy,
        TENANTS,
        "fleet_tenants.tenants-union-toronto.sso_domains",
        "'coop.example.org'",
        "is also in tenant 'cafe-montreal'",
        line=line,
    )


# --- the key itself -------------------------------------------------------------------


def test_a_misspelt_fleet_sso_is_refused_with_a_did_you_mean(example_copy: Path) -> None:
    edit(example_copy / SSO, "fleet_sso:", "fleet_ssso:")
    refused(example_copy, SSO, "fleet_ssso", "did you mean fleet_sso?", line=6)


def test_fleet_sso_outside_group_vars_all_is_refused(example_copy: Path) -> None:
    text = (example_copy / SSO).read_text()
    (example_copy / SSO).unlink()
    (example_copy / "group_vars/keycloak.yml").write_text(text)
    refused(example_copy, "group_vars/keycloak.yml", "fleet_sso", "belongs in group_vars/all/", line=6)


def test_fleet_sso_defined_twice_is_refused(example_copy: Path) -> None:
    text = (example_copy / SSO).read_text()
    (example_copy / "group_vars/all/sso-again.yml").write_text(text)
    refused(example_copy, "group_vars/all/sso", "fleet_sso", "is defined twice")


def test_fleet_sso_must_be_a_mapping(example_copy: Path) -> None:
    (example_copy / SSO).write_text("fleet_sso: https://sso.example.coop\n")
    refused(example_copy, SSO, "fleet_sso", "must be a mapping, not a string", line=1)
