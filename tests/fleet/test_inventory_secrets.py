"""Secrets: `inventory check` warns for plain-text ones (--strict: exit 2), the lab's
throwaway file is accepted with a note, and read_fleet_secret reads one on purpose."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from meetfleet.fleet import InventoryError
from meetfleet.fleet.vault import read_fleet_secret
from tests.conftest import EXAMPLE_INVENTORY, LAB_INVENTORY
from tests.fleet.checks import append, refused
from tests.helpers import edit, run

EU1 = "host_vars/bbb-eu-1.example.coop.yml"
SECRET = "hunter2-plain-secret-value"
PASSWORD = b"correct horse battery staple"


def _vault_text(plaintext: str, password: bytes = PASSWORD) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(password))]).encrypt(plaintext, secret=VaultSecret(password)).decode()


def _inline(plaintext: str, password: bytes = PASSWORD) -> str:
    return "!vault |\n" + "".join(f"  {line}\n" for line in _vault_text(plaintext, password).splitlines())


@pytest.fixture
def password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vault-password"
    path.write_bytes(PASSWORD + b"\n")
    path.chmod(0o600)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(path))
    return path


# --- warnings ----------------------------------------------------------------------------

@pytest.mark.parametrize(("file", "text", "key"), [
    (EU1, f"bbb_secret: {SECRET}\n", "bbb_secret"),
    ("group_vars/all/vault.yml", f"vault_coturn_secret: {SECRET}\n", "vault_coturn_secret"),
    ("group_vars/all/exporter.yml", f"capacity_exporter_basic_auth_password: {SECRET}\n",
     "capacity_exporter_basic_auth_password"),
    ("group_vars/turn.yml", "coturn_static_auth_secret: 123456789012345678901234567890123\n",
     "coturn_static_auth_secret"),
    ("group_vars/all/extra.yml", f"some_tool_password: \"{{{{ '{SECRET}' }}}}\"\n", "some_tool_password"),
])
def test_plain_secret_is_a_warning_and_strict_makes_it_an_error(example_copy: Path, file: str, text: str,
                                                                key: str) -> None:
    line = append(example_copy / file, text)
    result = run("inventory", "check", "--inventory", str(example_copy))
    assert result.exit_code == 0, result.output
    assert f"warning: {example_copy / file}: {key} (line {line}): is a secret in plain text" in result.output
    assert "1 warning" in result.output
    output = refused(example_copy, file, key, "plain text", line=line, args=("--strict",))
    assert SECRET not in result.output and SECRET not in output


def test_plain_secret_inside_a_structure_is_found(example_copy: Path) -> None:
    edit(example_copy / "group_vars/bbb.yml", 'secret: "{{ vault_coturn_secret }}"', f"secret: {SECRET}")
    output = refused(example_copy, "group_vars/bbb.yml", "bbb_turn_servers[0].secret", line=6, args=("--strict",))
    assert SECRET not in output


@pytest.mark.parametrize("value", [
    '"{{ vault_bbb_secret }}"',
    "\"{{ lookup('vars', 'vault_x_' ~ inventory_hostname) }}\"",
    _inline("s3cret"),
    "''",
])
def test_vault_references_are_not_warned(example_copy: Path, value: str) -> None:
    append(example_copy / EU1, f"bbb_secret: {value}\n")
    result = run("inventory", "check", "--strict", "--inventory", str(example_copy))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_vault_encrypted_file_is_not_warned(example_copy: Path) -> None:
    (example_copy / "group_vars/all/vault.yml").write_text(_vault_text(f"vault_coturn_secret: {SECRET}\n"))
    result = run("inventory", "check", "--strict", "--inventory", str(example_copy))
    assert result.exit_code == 0 and "warning" not in result.output, result.output


@pytest.mark.parametrize("inventory", [EXAMPLE_INVENTORY, LAB_INVENTORY])
def test_shipped_inventories_pass_strict(inventory: Path) -> None:
    # The lab's generated vault.yml, when `lab up` made one, is the lab's kind of file.
    result = run("inventory", "check", "--strict", "--inventory", str(inventory))
    assert result.exit_code == 0, result.output


# --- the lab's throwaway secrets file ------------------------------------------------------

def _lab_in_git(tmp_path: Path, ignored: bool, mode: int) -> Path:
    """A copy of the lab in a git repository, with a plain generated vault.yml."""
    repo = tmp_path / "repo"
    lab = repo / "inventories" / "lab"
    shutil.copytree(LAB_INVENTORY, lab, ignore=shutil.ignore_patterns("vault.yml"))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    if ignored:
        (repo / ".gitignore").write_text("inventories/*/group_vars/all/vault.yml\n")
    vault = lab / "group_vars/all/vault.yml"
    vault.write_text(f"vault_coturn_secret: {SECRET}\nvault_exporter_basic_auth_password: {SECRET}x\n")
    vault.chmod(mode)
    return lab


def test_lab_vault_that_git_ignores_and_only_its_owner_reads_is_accepted_with_a_note(tmp_path: Path) -> None:
    lab = _lab_in_git(tmp_path, ignored=True, mode=0o600)
    result = run("inventory", "check", "--strict", "--inventory", str(lab))
    assert result.exit_code == 0, result.output
    assert "note:" in result.output and "2 plain-text secrets accepted" in result.output
    assert "warning" not in result.output and SECRET not in result.output


@pytest.mark.parametrize(("ignored", "mode"), [(True, 0o644), (False, 0o600)])
def test_lab_vault_readable_by_others_or_tracked_is_warned(tmp_path: Path, ignored: bool, mode: int) -> None:
    lab = _lab_in_git(tmp_path, ignored=ignored, mode=mode)
    plain = run("inventory", "check", "--inventory", str(lab))
    assert plain.exit_code == 0 and "2 warnings" in plain.output, plain.output
    refused(lab, "group_vars/all/vault.yml", "vault_coturn_secret", line=1, args=("--strict",))


# --- read_fleet_secret -----------------------------------------------------------------------

def test_reads_a_plain_value(example_copy: Path) -> None:
    append(example_copy / "group_vars/all/vault.yml", f"vault_exporter_basic_auth_password: {SECRET}\n")
    assert read_fleet_secret(example_copy, "vault_exporter_basic_auth_password") == SECRET


def test_reads_an_inline_vault_value(example_copy: Path, password_file: Path) -> None:
    append(example_copy / "group_vars/all/acme.yml", f"vault_exporter_basic_auth_password: {_inline(SECRET)}")
    assert read_fleet_secret(example_copy, "vault_exporter_basic_auth_password") == SECRET


def test_reads_a_variable_of_a_vault_encrypted_file(example_copy: Path, password_file: Path) -> None:
    (example_copy / "group_vars/all/vault.yml").write_text(
        _vault_text(f"vault_coturn_secret: other\nvault_exporter_basic_auth_password: {SECRET}\n"))
    assert read_fleet_secret(example_copy, "vault_exporter_basic_auth_password") == SECRET


def test_wrong_vault_password_names_file_and_key_not_the_secret(example_copy: Path, password_file: Path) -> None:
    vault = example_copy / "group_vars/all/vault.yml"
    vault.write_text(_vault_text(f"vault_exporter_basic_auth_password: {SECRET}\n", password=b"another"))
    with pytest.raises(InventoryError) as err:
        read_fleet_secret(example_copy, "vault_exporter_basic_auth_password")
    assert str(vault) in str(err.value) and "vault_exporter_basic_auth_password" in str(err.value)
    assert "cannot be decrypted" in str(err.value) and SECRET not in str(err.value)


def test_vault_value_without_password_file_is_an_error(example_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    append(example_copy / "group_vars/all/acme.yml", f"vault_x_password: {_inline(SECRET)}")
    with pytest.raises(InventoryError, match="ANSIBLE_VAULT_PASSWORD_FILE is not set"):
        read_fleet_secret(example_copy, "vault_x_password")


def test_missing_variable_is_an_error_naming_it(example_copy: Path) -> None:
    with pytest.raises(InventoryError, match=r"group_vars/all: vault_nothing: is not defined"):
        read_fleet_secret(example_copy, "vault_nothing")


def test_template_is_refused_not_followed(example_copy: Path) -> None:
    append(example_copy / "group_vars/all/acme.yml", "exporter_password: '{{ vault_exporter_basic_auth_password }}'\n")
    with pytest.raises(InventoryError, match=r"acme.yml: exporter_password: is a template"):
        read_fleet_secret(example_copy, "exporter_password")


def test_secret_in_a_vault_file_that_is_not_yaml_is_not_echoed(example_copy: Path, password_file: Path) -> None:
    (example_copy / "group_vars/all/vault.yml").write_text(_vault_text(f"vault_x: [{SECRET}\n"))
    with pytest.raises(InventoryError) as err:
        read_fleet_secret(example_copy, "vault_x")
    assert "not valid YAML" in str(err.value) and SECRET not in str(err.value)


def test_password_file_that_cannot_be_read_is_an_error(example_copy: Path, password_file: Path) -> None:
    os.unlink(password_file)
    append(example_copy / "group_vars/all/acme.yml", f"vault_x_password: {_inline(SECRET)}")
    with pytest.raises(InventoryError, match="vault password file cannot be read"):
        read_fleet_secret(example_copy, "vault_x_password")
