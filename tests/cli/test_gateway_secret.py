"""`tenant add` with a gateway (fleet_gateway): the tenant's gateway secret goes into the
vault (kept encrypted when it is), the member's endpoint is printed, the secret never is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from meetfleet.fleet import load_inventory
from meetfleet.fleet.vault import read_fleet_secret
from tests.cli.conftest import CA1, Standin
from tests.helpers import run, snapshot

PASSWORD = b"correct horse battery staple"
VARIABLE = "vault_gateway_secret_choir_quebec"
ENDPOINT = "https://gateway.example.coop/t/choir-quebec/bigbluebutton/api/"


def _vault_lib():
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(PASSWORD))])


@pytest.fixture
def gateway_inventory(example_copy: Path) -> Path:
    (example_copy / "group_vars/all/gateway.yml").write_text("fleet_gateway:\n  url: https://gateway.example.coop\n")
    return example_copy


def _vault(inventory: Path) -> Path:
    return inventory / "group_vars/all/vault.yml"


def _add(inventory: Path, standin: Standin, *extra: str):
    return run("tenant", "add", "choir-quebec", "--plan", "small", "--region", "ca", "--exporter", standin.url,
               "--inventory", str(inventory), *extra)


def test_a_plain_lab_vault_gets_the_secret_and_keeps_its_mode(gateway_inventory: Path, standin: Standin) -> None:
    vault = _vault(gateway_inventory)
    vault.write_text("# lab secrets\nvault_coturn_secret: abc123abc123abc123\n")
    vault.chmod(0o600)
    result = _add(gateway_inventory, standin)
    assert result.exit_code == 0, result.output
    secret = read_fleet_secret(gateway_inventory, VARIABLE)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert secret not in result.output
    assert f"BIGBLUEBUTTON_ENDPOINT={ENDPOINT}" in result.output
    assert VARIABLE in result.output
    assert vault.stat().st_mode & 0o777 == 0o600
    assert vault.read_text().startswith("# lab secrets\nvault_coturn_secret: abc123abc123abc123\n")
    assert load_inventory(gateway_inventory).tenants["choir-quebec"].bbb_server == CA1


def test_an_encrypted_vault_stays_encrypted_and_keeps_what_it_had(gateway_inventory: Path, standin: Standin,
                                                                  tmp_path: Path, monkeypatch) -> None:
    password = tmp_path / "vault-password"
    password.write_bytes(PASSWORD + b"\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(password))
    vault = _vault(gateway_inventory)
    vault.write_text(_vault_lib().encrypt("vault_coturn_secret: kept-as-it-was\n").decode() + "\n")
    result = _add(gateway_inventory, standin, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["gateway"] == {"endpoint": ENDPOINT, "secret_variable": VARIABLE, "secret_file": str(vault)}
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    plain = _vault_lib().decrypt(vault.read_text().encode()).decode()
    assert plain.startswith("vault_coturn_secret: kept-as-it-was\n")
    secret = read_fleet_secret(gateway_inventory, VARIABLE)
    assert f"{VARIABLE}: {secret}" in plain and secret not in result.output


def test_an_encrypted_vault_without_its_password_is_refused_before_placing(
        gateway_inventory: Path, standin: Standin, monkeypatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    _vault(gateway_inventory).write_text(_vault_lib().encrypt("vault_coturn_secret: x\n").decode() + "\n")
    before = snapshot(gateway_inventory)
    result = _add(gateway_inventory, standin)
    assert result.exit_code == 2, result.output
    assert "ANSIBLE_VAULT_PASSWORD_FILE is not set" in result.output
    assert snapshot(gateway_inventory) == before
    assert standin.requests == []  # refused before any capacity source was asked


def test_no_vault_file_is_refused_rather_than_a_plain_secret_made(gateway_inventory: Path, standin: Standin) -> None:
    before = snapshot(gateway_inventory)
    result = _add(gateway_inventory, standin)
    assert result.exit_code == 2, result.output
    assert "there is no vault file to keep the secret in" in result.output
    assert snapshot(gateway_inventory) == before and standin.requests == []


def test_an_existing_secret_is_never_overwritten(gateway_inventory: Path, standin: Standin) -> None:
    vault = _vault(gateway_inventory)
    vault.write_text(f"{VARIABLE}: the-one-the-member-already-has\n")
    vault.chmod(0o600)
    before = snapshot(gateway_inventory)
    result = _add(gateway_inventory, standin)
    assert result.exit_code == 2, result.output
    assert f"{VARIABLE}: already exists" in " ".join(result.output.split())
    assert snapshot(gateway_inventory) == before


def test_without_a_gateway_no_secret_is_made(example_copy: Path, standin: Standin) -> None:
    result = _add(example_copy, standin, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["gateway"] is None
    assert not _vault(example_copy).exists()
