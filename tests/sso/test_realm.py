"""The realm computed from the inventory (meetfleet.sso.realm), without a server: what the
example fleet asks for, what one more tenant changes, and each derivation on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory
from meetfleet.fleet.model import Sso, Tenant
from meetfleet.fleet.writer import set_tenant
from meetfleet.sso import RealmError, desired_realm, realm_of
from tests.conftest import EXAMPLE_INVENTORY
from tests.helpers import edit

SSO = "group_vars/all/sso.yml"
CALLBACK = "/auth/openid_connect/callback"


def _example_realm() -> dict:
    realm = realm_of(load_inventory(EXAMPLE_INVENTORY))
    assert realm is not None
    return realm


def _sso(**fields: object) -> Sso:
    return Sso.model_validate(
        {"realm": "coop", "display_name": "Coop", "public_url": "https://sso.coop", "verify_email": False, **fields}
    )


def _tenant(name: str, **fields: object) -> Tenant:
    return Tenant.model_validate({"name": name, "plan": "small", "region": "eu", **fields})


def test_the_example_realm_has_its_settings_as_written() -> None:
    realm = _example_realm()
    assert {
        key: realm[key]
        for key in (
            "realm",
            "display_name",
            "public_url",
            "registration_allowed",
            "verify_email",
            "password_policy",
            "brute_force_protected",
            "smtp",
        )
    } == {
        "realm": "coop",
        "display_name": "Example Cooperative",
        "public_url": "https://sso.example.coop",
        "registration_allowed": False,
        "verify_email": True,
        "password_policy": "length(12) and notUsername and notEmail",
        "brute_force_protected": True,
        "smtp": {
            "host": "mail.example.coop",
            "port": 587,
            "from": "sso@example.coop",
            "starttls": True,
            "ssl": False,
            "user": "sso@example.coop",
            "password_variable": "vault_sso_smtp_password",
        },
    }


def test_each_tenant_greenlight_has_a_client_redirecting_to_its_site() -> None:
    clients = {c["client_id"]: c for c in _example_realm()["clients"] if c["kind"] == "greenlight"}
    assert sorted(clients) == ["bakery-collective", "free-school-leipzig", "housing-federation"]
    assert clients["free-school-leipzig"] == {
        "client_id": "free-school-leipzig",
        "name": "Greenlight of free-school-leipzig",
        "kind": "greenlight",
        "tenant": "free-school-leipzig",
        "root_url": "https://school.rooms-eu.example.coop",
        "redirect_uris": [f"https://school.rooms-eu.example.coop{CALLBACK}"],
        "web_origins": ["https://school.rooms-eu.example.coop"],
        "secret_variable": "vault_sso_client_secret_free_school_leipzig",
    }
    assert clients["bakery-collective"]["redirect_uris"] == [f"https://bakery.rooms-eu.example.coop{CALLBACK}"]
    assert clients["housing-federation"]["redirect_uris"] == [f"https://housing.rooms-eu.example.coop{CALLBACK}"]


def test_nextcloud_and_the_shared_greenlight_have_their_clients() -> None:
    clients = {c["client_id"]: c for c in _example_realm()["clients"]}
    # fleet_sso.nextcloud is not given: the nextcloud group's one host is the site
    assert clients["nextcloud"] == {
        "client_id": "nextcloud",
        "name": "Nextcloud",
        "kind": "nextcloud",
        "tenant": None,
        "root_url": "https://cloud.example.coop",
        "redirect_uris": ["https://cloud.example.coop/apps/user_oidc/code"],
        "web_origins": ["https://cloud.example.coop"],
        "secret_variable": "vault_sso_client_secret_nextcloud",
    }
    assert clients["shared-greenlight"] == {
        "client_id": "shared-greenlight",
        "name": "Greenlight (shared)",
        "kind": "shared-greenlight",
        "tenant": None,
        "root_url": "https://rooms-eu.example.coop",
        "redirect_uris": [f"https://rooms-eu.example.coop{CALLBACK}"],
        "web_origins": ["https://rooms-eu.example.coop"],
        "secret_variable": "vault_sso_client_secret_shared_greenlight",
    }


def test_clients_are_sorted_and_tenants_without_greenlight_have_none() -> None:
    ids = [c["client_id"] for c in _example_realm()["clients"]]
    assert (
        ids
        == sorted(ids)
        == ["bakery-collective", "free-school-leipzig", "housing-federation", "nextcloud", "shared-greenlight"]
    )
    # cafe-montreal and tenants-union-toronto have an sso_client but no Greenlight of their own
    assert "cafe-montreal" not in ids and "tenants-union-toronto" not in ids


def test_every_tenant_is_one_organization() -> None:
    organizations = _example_realm()["organizations"]
    assert [o["name"] for o in organizations] == [
        "bakery-collective",
        "cafe-montreal",
        "free-school-leipzig",
        "housing-federation",
        "tenants-union-toronto",
    ]
    assert organizations[1] == {
        "name": "cafe-montreal",
        "alias": "cafe-montreal",
        "description": "Member organisation cafe-montreal",
        "domains": [],
        "admin_group": "cafe-montreal-admins",
        "members_group": "cafe-montreal-members",
    }


def test_a_tenant_added_by_the_writer_adds_its_client_and_organization_and_nothing_else(example_copy: Path) -> None:
    before = realm_of(load_inventory(example_copy))
    fleet = set_tenant(
        example_copy,
        "choir-lyon",
        {
            "plan": "small",
            "region": "eu",
            "bbb_server": "bbb-eu-2.example.coop",
            "greenlight": "rooms-eu.example.coop",
            "sso_client": "choir-lyon",
            "origin_server_names": ["choir.rooms-eu.example.coop", "Chorale.Example.org"],
            "sso_domains": ["choir-lyon.example.org"],
        },
        create=True,
    )
    after = realm_of(fleet)
    assert before is not None and after is not None
    added = [c for c in after["clients"] if c not in before["clients"]]
    assert added == [
        {
            "client_id": "choir-lyon",
            "name": "Greenlight of choir-lyon",
            "kind": "greenlight",
            "tenant": "choir-lyon",
            "root_url": "https://choir.rooms-eu.example.coop",
            "redirect_uris": [
                f"https://choir.rooms-eu.example.coop{CALLBACK}",
                f"https://chorale.example.org{CALLBACK}",
            ],
            "web_origins": ["https://choir.rooms-eu.example.coop", "https://chorale.example.org"],
            "secret_variable": "vault_sso_client_secret_choir_lyon",
        }
    ]
    assert [o for o in after["organizations"] if o not in before["organizations"]] == [
        {
            "name": "choir-lyon",
            "alias": "choir-lyon",
            "description": "Member organisation choir-lyon",
            "domains": ["choir-lyon.example.org"],
            "admin_group": "choir-lyon-admins",
            "members_group": "choir-lyon-members",
        }
    ]
    unchanged = {key: value for key, value in after.items() if key not in ("clients", "organizations")}
    assert unchanged == {key: value for key, value in before.items() if key not in ("clients", "organizations")}
    assert [c for c in after["clients"] if c["client_id"] != "choir-lyon"] == before["clients"]
    assert [o for o in after["organizations"] if o["name"] != "choir-lyon"] == before["organizations"]
    # the realm reads what the writer recorded, not what the test passed
    assert load_inventory(example_copy).tenants["choir-lyon"].sso_domains == ("choir-lyon.example.org",)


def test_a_tenant_without_greenlight_is_an_organization_only() -> None:
    realm = desired_realm(_sso(), [_tenant("cafe", sso_client="cafe")])
    assert realm["clients"] == []
    assert [o["name"] for o in realm["organizations"]] == ["cafe"]


def test_without_fleet_sso_there_is_no_realm(example_copy: Path) -> None:
    (example_copy / SSO).unlink()
    assert realm_of(load_inventory(example_copy)) is None


def test_the_nextcloud_site_is_the_one_nextcloud_host_unless_given() -> None:
    def nextcloud(sso: Sso, hosts: list[str]) -> list[dict]:
        return [c for c in desired_realm(sso, [], hosts)["clients"] if c["kind"] == "nextcloud"]

    assert nextcloud(_sso(), []) == []
    assert nextcloud(_sso(), ["cloud.coop"])[0]["redirect_uris"] == ["https://cloud.coop/apps/user_oidc/code"]
    given = nextcloud(_sso(nextcloud="https://Files.Coop:8443/nc/"), ["cloud.coop"])[0]
    assert (given["root_url"], given["redirect_uris"], given["web_origins"]) == (
        "https://files.coop:8443/nc",
        ["https://files.coop:8443/nc/apps/user_oidc/code"],
        ["https://files.coop:8443"],
    )


def test_two_nextcloud_hosts_and_no_url_cannot_make_a_realm() -> None:
    with pytest.raises(RealmError, match=r"fleet_sso\.nextcloud: is required: the nextcloud group has 2 hosts"):
        desired_realm(_sso(), [], ["a.coop", "b.coop"])
    assert desired_realm(_sso(nextcloud="https://a.coop"), [], ["a.coop", "b.coop"])["clients"][0]["root_url"] == (
        "https://a.coop"
    )


def test_site_names_are_lowercased_and_each_given_once() -> None:
    tenant = _tenant(
        "bakery",
        greenlight="rooms.coop",
        sso_client="bakery",
        origin_server_names=["Bakery.Rooms.Coop", "bakery.rooms.coop", "bakery.rooms.coop:8443"],
    )
    client = desired_realm(_sso(), [tenant])["clients"][0]
    assert client["web_origins"] == ["https://bakery.rooms.coop", "https://bakery.rooms.coop:8443"]
    assert client["redirect_uris"] == [
        f"https://bakery.rooms.coop{CALLBACK}",
        f"https://bakery.rooms.coop:8443{CALLBACK}",
    ]


def test_smtp_without_a_login_has_no_user_and_without_smtp_is_empty() -> None:
    no_login = desired_realm(
        _sso(smtp={"host": "mail.coop", "from": "sso@coop.org", "port": 465, "starttls": False, "ssl": True}), []
    )
    assert no_login["smtp"] == {
        "host": "mail.coop",
        "port": 465,
        "from": "sso@coop.org",
        "starttls": False,
        "ssl": True,
    }
    assert desired_realm(_sso(), [])["smtp"] == {}


def test_a_client_secret_variable_has_only_a_name_s_characters() -> None:
    tenant = _tenant("bakery", greenlight="rooms.coop", sso_client="bakery.rooms-2", origin_server_names=["b.coop"])
    assert desired_realm(_sso(), [tenant])["clients"][0]["secret_variable"] == "vault_sso_client_secret_bakery_rooms_2"


@pytest.mark.parametrize(
    ("tenants", "words"),
    [
        (
            [_tenant("a", sso_client="same"), _tenant("b", sso_client="same")],
            "fleet_tenants.b.sso_client: 'same' is also the sso_client of tenant 'a'",
        ),
        (
            [_tenant("a", sso_client="nextcloud")],
            "fleet_tenants.a.sso_client: 'nextcloud' is the id of the realm's Nextcloud",
        ),
        (
            [_tenant("a", greenlight="rooms.coop", origin_server_names=["a.coop"])],
            "fleet_tenants.a.sso_client: is required",
        ),
        ([_tenant("a", greenlight="rooms.coop", sso_client="a")], "fleet_tenants.a.origin_server_names: is required"),
        (
            [
                _tenant("a", greenlight="r.coop", sso_client="x-y", origin_server_names=["a.coop"]),
                _tenant("b", greenlight="r.coop", sso_client="x.y", origin_server_names=["b.coop"]),
            ],
            "would share the vault variable vault_sso_client_secret_x_y",
        ),
        (
            [_tenant("a", greenlight="r.coop", sso_client="shared_greenlight", origin_server_names=["a.coop"])],
            "would share the vault variable vault_sso_client_secret_shared_greenlight",
        ),
        (
            [_tenant("a", sso_domains=["a.org"]), _tenant("b", sso_domains=["a.org"])],
            "fleet_tenants.b.sso_domains: 'a.org' is also in tenant 'a'",
        ),
    ],
)
def test_what_the_inventory_check_refuses_cannot_make_a_realm(tenants: list[Tenant], words: str) -> None:
    with pytest.raises(RealmError) as caught:
        desired_realm(_sso(), tenants)
    assert words in str(caught.value)


def test_the_example_inventory_edited_by_hand_changes_the_realm(example_copy: Path) -> None:
    # the realm follows the record: no cache, no second source
    edit(example_copy / SSO, "registration_allowed: false", "registration_allowed: true")
    realm = realm_of(load_inventory(example_copy))
    assert realm is not None and realm["registration_allowed"] is True
