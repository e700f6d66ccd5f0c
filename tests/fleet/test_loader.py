"""The loader's reading rules: Ansible's variable merge, templates, vault files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meetfleet.fleet import InventoryError, ServerState, load_inventory
from tests.conftest import LAB_INVENTORY


def test_group_vars_template_renders_per_host_api_url() -> None:
    fleet = load_inventory(LAB_INVENTORY)
    assert fleet.hosts["bbb-ca-1.lab"].bbb.api_url == "http://bbb-ca-1.lab:8090/bigbluebutton/api"


def test_host_vars_override_group_vars(example_copy: Path) -> None:
    (example_copy / "group_vars/bbb.yml").write_text(
        (example_copy / "group_vars/bbb.yml").read_text() + "fleet_bbb_state: cordoned\n"
    )
    fleet = load_inventory(example_copy)
    # bbb-eu-1 sets its own state in host_vars; the group's default does not win.
    assert fleet.hosts["bbb-eu-1.example.coop"].bbb.state is ServerState.ACTIVE


def test_vault_encrypted_files_are_not_read(example_copy: Path) -> None:
    (example_copy / "group_vars/all/vault.yml").write_text(
        "$ANSIBLE_VAULT;1.1;AES256\n6132356137623964\n"
    )
    assert "bbb-eu-1.example.coop" in load_inventory(example_copy).hosts


def test_template_error_names_the_key(example_copy: Path) -> None:
    path = example_copy / "host_vars/bbb-eu-1.example.coop.yml"
    path.write_text(path.read_text() + "fleet_bbb_api_url: 'https://{{ no_such_var }}/api'\n")
    with pytest.raises(InventoryError) as err:
        load_inventory(example_copy)
    assert "bbb-eu-1.example.coop.fleet_bbb_api_url" in str(err.value)
    assert "no_such_var" in str(err.value)


def test_host_vars_for_unlisted_host_is_an_error(example_copy: Path) -> None:
    (example_copy / "host_vars/ghost.example.coop.yml").write_text("fleet_region: eu\n")
    with pytest.raises(InventoryError, match=re.escape("ghost.example.coop: has host_vars but is not in any group")):
        load_inventory(example_copy)


def test_inline_vault_values_are_kept_opaque(example_copy: Path) -> None:
    path = example_copy / "host_vars/bbb-eu-1.example.coop.yml"
    path.write_text(path.read_text() + "bbb_secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
    assert load_inventory(example_copy).hosts["bbb-eu-1.example.coop"].bbb.capacity == 400


def test_error_names_the_line(example_copy: Path) -> None:
    with pytest.raises(InventoryError) as err:
        (example_copy / "host_vars/bbb-eu-2.example.coop.yml").write_text(
            "fleet_region: eu\nfleet_provider: hcloud\nfleet_hcloud_location: fsn1\nfleet_bbb_capacity: 400\n"
            "fleet_bbb_state: on-fire\n")
        load_inventory(example_copy)
    assert "bbb-eu-2.example.coop.fleet_bbb_state (line 5)" in str(err.value)
