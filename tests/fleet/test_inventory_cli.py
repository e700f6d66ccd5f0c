"""`meetfleet inventory check|show`, tried as a new user would: through the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_INVENTORY, LAB_INVENTORY
from tests.helpers import edit, run, snapshot


@pytest.mark.parametrize("inventory", [EXAMPLE_INVENTORY, LAB_INVENTORY])
def test_shipped_inventories_are_valid(inventory: Path) -> None:
    result = run("inventory", "check", "--inventory", str(inventory))
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_show_prints_the_fleet_as_tables() -> None:
    result = run("inventory", "show", "--inventory", str(EXAMPLE_INVENTORY))
    assert result.exit_code == 0, result.output
    for title in ("Regions", "Hosts", "BBB servers", "Plans", "Tenants"):
        assert title in result.output
    # The Canadian server is static (Hetzner has no Canadian location) and its
    # capacity is derived from its 16 CPUs.
    line = next(ln for ln in result.output.splitlines() if "bbb-ca-1" in ln and "active" in ln)
    assert "800" in line


def test_show_json_is_the_validated_model() -> None:
    result = run("inventory", "show", "--inventory", str(EXAMPLE_INVENTORY), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["hosts"]["bbb-ca-1.example.coop"]["source"] == {"kind": "static"}
    assert data["hosts"]["bbb-eu-1.example.coop"]["bbb"]["capacity"] == 400
    assert data["tenants"]["cafe-montreal"]["bbb_server"] == "bbb-ca-1.example.coop"
    assert data["plans"]["medium"]["max_rooms"] == 20


# Each case: how a user breaks the example, then the file and words the error must name.
BAD_INPUTS = {
    "yaml-syntax": (
        "group_vars/all/fleet.yml", "  eu:\n    description:", "  eu:\n   description: [oops\n    description:",
        "group_vars/all/fleet.yml", ["YAML error", "line"],
    ),
    "unknown-region-of-host": (
        "host_vars/bbb-eu-2.example.coop.yml", "fleet_region: eu", "fleet_region: us",
        "host_vars/bbb-eu-2.example.coop.yml", ["bbb-eu-2.example.coop.fleet_region", "unknown region 'us'"],
    ),
    "unknown-region-of-tenant": (
        "group_vars/all/tenants.yml", "    region: ca\n    bbb_server: bbb-ca-1.example.coop\n    sso_client: cafe",
        "    region: asia\n    bbb_server: bbb-ca-1.example.coop\n    sso_client: cafe",
        "group_vars/all/tenants.yml", ["fleet_tenants.cafe-montreal.region", "unknown region 'asia'"],
    ),
    "tenant-on-missing-server": (
        "group_vars/all/tenants.yml", "bbb_server: bbb-eu-2.example.coop", "bbb_server: bbb-eu-9.example.coop",
        "group_vars/all/tenants.yml",
        ["fleet_tenants.housing-federation.bbb_server", "'bbb-eu-9.example.coop' is not a BBB server"],
    ),
    "tenant-on-server-of-other-region": (
        "group_vars/all/tenants.yml", "bbb_server: bbb-eu-2.example.coop", "bbb_server: bbb-ca-1.example.coop",
        "group_vars/all/tenants.yml",
        ["fleet_tenants.housing-federation.bbb_server", "is in region 'ca', the tenant in 'eu'"],
    ),
    "duplicate-tenant-name": (
        "group_vars/all/tenants.yml", "  cafe-montreal:\n", "  bakery-collective:\n",
        "group_vars/all/tenants.yml", ["duplicate key", "bakery-collective"],
    ),
    "duplicate-definition-across-files": (
        "group_vars/all/fleet.yml", "fleet_plans:", "fleet_tenants: {}\nfleet_plans:",
        "group_vars/all/", ["fleet_tenants", "is defined twice"],
    ),
    "plan-negative-limit": (
        "group_vars/all/fleet.yml", "max_rooms: 20", "max_rooms: -3",
        "group_vars/all/fleet.yml", ["fleet_plans.medium.max_rooms", "greater than 0", "-3"],
    ),
    "plan-missing-limit": (
        "group_vars/all/fleet.yml", "    max_meeting_minutes: 480\n", "",
        "group_vars/all/fleet.yml", ["fleet_plans.large.max_meeting_minutes", "required but missing"],
    ),
    "plan-typo-key": (
        "group_vars/all/fleet.yml", "max_concurrent_users: 50", "max_concurent_users: 50",
        "group_vars/all/fleet.yml", ["fleet_plans.small.max_concurent_users", "not a known key"],
    ),
    "bbb-without-capacity": (
        "host_vars/bbb-eu-1.example.coop.yml", "fleet_bbb_capacity: 400\n", "",
        "bbb-eu-1.example.coop.fleet_bbb_capacity", ["needs a capacity"],
    ),
    "unknown-state": (
        "host_vars/bbb-eu-2.example.coop.yml", "fleet_bbb_state: active", "fleet_bbb_state: paused",
        "host_vars/bbb-eu-2.example.coop.yml", ["bbb-eu-2.example.coop.fleet_bbb_state", "unknown state 'paused'"],
    ),
    "hcloud-location-that-does-not-exist": (
        "host_vars/bbb-ca-1.example.coop.yml", "fleet_provider: static",
        "fleet_provider: hcloud\nfleet_hcloud_location: yul1",
        "host_vars/bbb-ca-1.example.coop.yml",
        ["bbb-ca-1.example.coop.fleet_hcloud_location", "'yul1' is not a Hetzner Cloud location"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_precisely(example_copy: Path, case: str) -> None:
    file, old, new, named_file, words = BAD_INPUTS[case]
    edit(example_copy / file, old, new)
    before = snapshot(example_copy)
    result = run("inventory", "check", "--inventory", str(example_copy))
    assert result.exit_code == 2, result.output
    assert named_file in result.output
    for word in words:
        assert word in result.output
    assert snapshot(example_copy) == before  # checking never writes


def test_every_problem_is_reported_not_just_the_first(example_copy: Path) -> None:
    edit(example_copy / "host_vars/bbb-eu-2.example.coop.yml", "fleet_bbb_state: active",
         "fleet_bbb_state: paused")
    edit(example_copy / "group_vars/all/fleet.yml", "max_rooms: 20", "max_rooms: 0")
    result = run("inventory", "check", "--inventory", str(example_copy))
    assert result.exit_code == 2
    assert "2 problems" in result.output


def test_missing_directory_is_bad_input(tmp_path: Path) -> None:
    result = run("inventory", "check", "--inventory", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "nope" in result.output


def test_installed_command_uses_documented_exit_codes(example_copy: Path) -> None:
    meetfleet = [sys.executable, "-m", "meetfleet.cli.main"]
    ok = subprocess.run([*meetfleet, "inventory", "check", "--inventory", str(example_copy)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    edit(example_copy / "host_vars/bbb-eu-2.example.coop.yml", "fleet_region: eu", "fleet_region: us")
    bad = subprocess.run([*meetfleet, "inventory", "check", "--inventory", str(example_copy)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "unknown region 'us'" in bad.stderr
    assert bad.stdout == ""
