"""Lab secrets: one per BBB host plus the shared ones; existing values survive reruns."""

from __future__ import annotations

import itertools
import stat
from pathlib import Path

import pytest
import yaml

from meetfleet.lab.hosts import load_lab_inventory
from meetfleet.lab.podman import LabError
from meetfleet.lab.vault import bbb_secret_key, ensure_vault, merge_vault, required_keys, secrets_id
from meetfleet.sso.realm import realm_of
from tests.conftest import LAB_INVENTORY


def counter():
    numbers = itertools.count(1)
    return lambda: f"secret-{next(numbers)}"


def test_key_names_match_what_group_vars_bbb_looks_up() -> None:
    assert bbb_secret_key("bbb-eu-1.lab") == "vault_bbb_secret_bbb_eu_1_lab"
    assert required_keys(["b-2.x", "a-1.x"]) == [
        "lab_secrets_id", "vault_bbb_secret_a_1_x", "vault_bbb_secret_b_2_x", "vault_coturn_secret",
        "vault_exporter_basic_auth_password",
    ]


def test_the_vaults_id_is_made_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "vault.yml"
    ensure_vault(path, required_keys(["a-1.x"]))
    first = secrets_id(path)
    assert len(first) == 64
    ensure_vault(path, required_keys(["a-1.x", "b-2.x"]))
    assert secrets_id(path) == first  # a secret added later keeps the lab's containers
    other = tmp_path / "other.yml"
    ensure_vault(other, required_keys(["a-1.x"]))
    assert secrets_id(other) != first  # another checkout's vault: another id


def test_sso_hosts_and_clients_get_their_secrets() -> None:
    keys = required_keys(["a-1.x"], {"bbb", "keycloak", "nextcloud"}, ["vault_sso_client_secret_b", "vault_sso_a"])
    assert keys[-6:] == ["vault_keycloak_admin_password", "vault_keycloak_db_password",
                         "vault_nextcloud_admin_password", "vault_nextcloud_db_password",
                         "vault_sso_a", "vault_sso_client_secret_b"]
    assert "vault_keycloak_admin_password" not in required_keys(["a-1.x"], {"bbb", "nextcloud"})


def test_a_gateway_gets_each_tenants_secret() -> None:
    keys = required_keys(["a-1.x"], {"bbb", "gateway"}, [], ["food.coop", "bakery-collective"])
    assert keys[-2:] == ["vault_gateway_secret_bakery_collective", "vault_gateway_secret_food_coop"]
    assert not [k for k in required_keys(["a-1.x"], {"bbb"}, [], ["food.coop"]) if "gateway" in k]


def test_the_lab_vault_has_every_secret_its_realm_names() -> None:
    fleet = load_lab_inventory(LAB_INVENTORY).fleet
    realm = realm_of(fleet)
    assert realm is not None and realm["clients"]
    roles = {role for host in fleet.hosts.values() for role in host.roles}
    keys = required_keys([], roles, [client["secret_variable"] for client in realm["clients"]])
    assert {client["secret_variable"] for client in realm["clients"]} <= set(keys)
    assert "vault_sso_client_secret_nextcloud" in keys  # what roles/nextcloud looks up


def test_new_file_gets_every_key_with_a_fresh_value() -> None:
    text, added = merge_vault("", ["a", "b"], new_secret=counter())
    assert added == ["a", "b"]
    assert yaml.safe_load(text) == {"a": "secret-1", "b": "secret-2"}


def test_default_secrets_are_random_64_hex_characters() -> None:
    text, _ = merge_vault("", ["a", "b"])
    values = yaml.safe_load(text)
    assert values["a"] != values["b"]
    for value in values.values():
        assert len(value) == 64
        int(value, 16)


def test_existing_values_and_comments_are_kept_missing_keys_added() -> None:
    original = "# my note\na: keep-me\nb: ''\nunrelated: 3\n"
    text, added = merge_vault(original, ["a", "b", "c"], new_secret=counter())
    assert added == ["b", "c"]
    assert yaml.safe_load(text) == {"a": "keep-me", "b": "secret-1", "unrelated": 3, "c": "secret-2"}
    assert "# my note" in text


def test_encrypted_file_is_refused() -> None:
    with pytest.raises(LabError, match="vault-encrypted"):
        merge_vault("$ANSIBLE_VAULT;1.1;AES256\n6162\n", ["a"], "inv/vault.yml")


def test_not_a_mapping_is_refused_naming_the_file() -> None:
    with pytest.raises(LabError, match=r"inv/vault\.yml"):
        merge_vault("- a\n- b\n", ["a"], "inv/vault.yml")


def test_ensure_creates_0600_then_keeps_values(tmp_path: Path) -> None:
    path = tmp_path / "group_vars" / "all" / "vault.yml"
    assert ensure_vault(path, ["a"]) == "created"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = yaml.safe_load(path.read_text())
    assert ensure_vault(path, ["a"]) == "present"
    assert ensure_vault(path, ["a", "b"]) == "updated"
    second = yaml.safe_load(path.read_text())
    assert second["a"] == first["a"]
    assert set(second) == {"a", "b"}


def test_ensure_tightens_a_loose_mode(tmp_path: Path) -> None:
    path = tmp_path / "vault.yml"
    path.write_text("a: x\n")
    path.chmod(0o644)
    assert ensure_vault(path, ["a"]) == "updated"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "a: x\n"
