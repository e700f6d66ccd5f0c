"""Mistakes in the fleet record's values, each caught by `meetfleet inventory check`:
exit 2, the file, key and line where the value is written, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet.checks import append, refused
from tests.helpers import edit, run

EU1 = "host_vars/bbb-eu-1.example.coop.yml"
CA1 = "host_vars/bbb-ca-1.example.coop.yml"
FLEET = "group_vars/all/fleet.yml"
TENANTS = "group_vars/all/tenants.yml"


# --- 1. unknown or misspelt fleet_ keys, wherever they are ------------------------------

@pytest.mark.parametrize(("file", "text", "words"), [
    (EU1, "fleet_bbb_sate: cordoned\n", ["fleet_bbb_sate", "did you mean fleet_bbb_state?"]),
    ("group_vars/bbb.yml", "fleet_bbb_capasity: 300\n", ["fleet_bbb_capasity", "did you mean fleet_bbb_capacity?"]),
    ("group_vars/all/acme.yml", "fleet_tenant: {}\n", ["fleet_tenant", "did you mean fleet_tenants?"]),
    ("group_vars/all/extra.yml", "fleet_whatever: 1\n", ["fleet_whatever", "is not a fleet key"]),
])
def test_unknown_fleet_key_in_a_vars_file_is_refused(example_copy: Path, file: str, text: str,
                                                     words: list[str]) -> None:
    line = append(example_copy / file, text)
    refused(example_copy, file, *words, line=line)


def test_misspelt_state_no_longer_leaves_the_server_placeable(example_copy: Path) -> None:
    edit(example_copy / EU1, "fleet_bbb_state: active\n", "")
    line = append(example_copy / EU1, "fleet_bbb_sate: cordoned\n")
    refused(example_copy, EU1, "fleet_bbb_sate", "did you mean fleet_bbb_state?", line=line)


def test_unknown_fleet_key_in_hosts_yml_vars_is_refused(example_copy: Path) -> None:
    edit(example_copy / "hosts.yml", "all:\n  children:\n", "all:\n  vars:\n    fleet_regoin: eu\n  children:\n")
    refused(example_copy, "hosts.yml", "all.vars.fleet_regoin", "did you mean fleet_region?", line=5)


def test_unknown_fleet_key_on_a_host_line_of_hosts_yml_is_refused(example_copy: Path) -> None:
    edit(example_copy / "hosts.yml", "        bbb-eu-1.example.coop:\n",
         "        bbb-eu-1.example.coop:\n          fleet_bbb_stat: cordoned\n")
    refused(example_copy, "hosts.yml", "bbb-eu-1.example.coop.fleet_bbb_stat", "did you mean fleet_bbb_state?",
            line=8)


def test_fleet_wide_key_in_hosts_yml_is_refused_not_ignored(example_copy: Path) -> None:
    edit(example_copy / "hosts.yml", "all:\n  children:\n",
         "all:\n  vars:\n    fleet_placement_policy: pack\n  children:\n")
    refused(example_copy, "hosts.yml", "fleet_placement_policy", "belongs in group_vars/all/", line=5)


def test_role_keys_are_left_to_ansible(example_copy: Path) -> None:
    append(example_copy / EU1, "bbb_anything_new: 3\nbase_whatever: [1]\ncoturn_x: y\ncapacity_exporter_z: 1\n")
    result = run("inventory", "check", "--inventory", str(example_copy))
    assert result.exit_code == 0, result.output


# --- 2. values of the wrong type are refused, not coerced --------------------------------

@pytest.mark.parametrize(("file", "old", "new", "key", "line"), [
    (EU1, "fleet_bbb_capacity: 400", 'fleet_bbb_capacity: "200"', "bbb-eu-1.example.coop.fleet_bbb_capacity", 6),
    (EU1, "fleet_bbb_capacity: 400", "fleet_bbb_capacity: true", "bbb-eu-1.example.coop.fleet_bbb_capacity", 6),
    (EU1, "fleet_bbb_capacity: 400", "fleet_bbb_capacity: 400.0", "bbb-eu-1.example.coop.fleet_bbb_capacity", 6),
    (CA1, "fleet_bbb_cpus: 16", 'fleet_bbb_cpus: "16"', "bbb-ca-1.example.coop.fleet_bbb_cpus", 5),
    (EU1, "ansible_host: 203.0.113.11", "ansible_host: 203.0.113.11\nansible_port: '22'",
     "bbb-eu-1.example.coop.ansible_port", 6),
    (FLEET, "max_rooms: 20", 'max_rooms: "20"', "fleet_plans.medium.max_rooms", 21),
    (FLEET, "max_rooms: 20", "max_rooms: true", "fleet_plans.medium.max_rooms", 21),
    (FLEET, "max_concurrent_users: 50", "max_concurrent_users: 50.0", "fleet_plans.small.max_concurrent_users", 15),
    (FLEET, "timezone: Europe/Berlin", "timezone: 1", "fleet_regions.eu.timezone", 5),
    (TENANTS, "plan: small", "plan: 1", "fleet_tenants.bakery-collective.plan", 5),
    (EU1, "fleet_hcloud_server_type: ccx33", "fleet_hcloud_server_type: 33",
     "bbb-eu-1.example.coop.fleet_hcloud_server_type", 4),
])
def test_wrong_type_is_refused(example_copy: Path, file: str, old: str, new: str, key: str, line: int) -> None:
    edit(example_copy / file, old, new)
    refused(example_copy, file, key, line=line)


def test_fleet_lab_must_be_a_boolean(example_copy: Path) -> None:
    line = append(example_copy / EU1, "fleet_lab: 'yes'\n")
    refused(example_copy, EU1, "bbb-eu-1.example.coop.fleet_lab", "true or false", line=line)


# --- 3. numbers have bounds ------------------------------------------------------------

@pytest.mark.parametrize(("file", "old", "new", "key", "words", "line"), [
    (EU1, "fleet_bbb_capacity: 400", "fleet_bbb_capacity: " + "9" * 300, "fleet_bbb_capacity",
     ["from 1 to 100,000"], 6),
    (EU1, "fleet_bbb_capacity: 400", "fleet_bbb_capacity: " + "9" * 5000, "", ["cannot read"], 6),
    (CA1, "fleet_bbb_cpus: 16", "fleet_bbb_cpus: 1000000", "fleet_bbb_cpus", ["from 1 to 1,024"], 5),
    (FLEET, "max_meeting_minutes: 240", "max_meeting_minutes: 10081", "fleet_plans.medium.max_meeting_minutes",
     ["less than or equal to 10080"], 22),
    (FLEET, "max_concurrent_users: 200", "max_concurrent_users: 1000000000000",
     "fleet_plans.medium.max_concurrent_users", ["less than or equal to 100000"], 20),
    (FLEET, "max_rooms: 20", "max_rooms: 10001", "fleet_plans.medium.max_rooms", ["less than or equal to 10000"], 21),
    (FLEET, "max_rooms: 20", "max_rooms: 0", "fleet_plans.medium.max_rooms", ["greater than 0"], 21),
])
def test_numbers_out_of_bounds_are_refused(example_copy: Path, file: str, old: str, new: str, key: str,
                                           words: list[str], line: int) -> None:
    edit(example_copy / file, old, new)
    output = refused(example_copy, file, key, *words, line=line)
    assert "9" * 100 not in output  # the huge value is not echoed whole


# --- 4. time zones -----------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc", "/etc/localtime", "America", "zone.tab",
                                  "Europe/../../etc/passwd"])
def test_region_time_zone_is_checked_at_load(example_copy: Path, zone: str) -> None:
    edit(example_copy / FLEET, "timezone: Europe/Berlin", f"timezone: {zone!r}")
    refused(example_copy, FLEET, "fleet_regions.eu.timezone", "not a known time zone", line=5)


def test_tenant_time_zone_is_checked_at_load(example_copy: Path) -> None:
    edit(example_copy / TENANTS, "timezone: America/Montreal", "timezone: Mars/Olympus")
    refused(example_copy, TENANTS, "fleet_tenants.cafe-montreal.timezone", "not a known time zone", line=30)


# --- 5. URLs -----------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "words"), [
    ("ftp://bbb-eu-1.example.coop/bigbluebutton/api", ["http:// or https://"]),
    ("javascript:alert(1)", ["http:// or https://"]),
    ("https:///bigbluebutton/api", ["must name a host"]),
    ("https://bbb-eu-1.example.coop/api", ["must end in /bigbluebutton/api"]),
    ("https://bbb-eu-1.example.coop/bigbluebutton/api?x=1", ["?query"]),
    ("https://admin:hunter2@bbb-eu-1.example.coop/bigbluebutton/api", ["credentials"]),
    ("https://bbb-eu-1.example.coop:99999/bigbluebutton/api", ["not a valid URL"]),
])
def test_bbb_api_url_must_be_http_and_the_api_base(example_copy: Path, url: str, words: list[str]) -> None:
    line = append(example_copy / EU1, f"fleet_bbb_api_url: {url!r}\n")
    refused(example_copy, EU1, "bbb-eu-1.example.coop.fleet_bbb_api_url", *words, line=line)


def test_bbb_api_url_behind_a_path_prefix_is_accepted(example_copy: Path) -> None:
    append(example_copy / EU1, "fleet_bbb_api_url: https://bbb-eu-1.example.coop/eu1/bigbluebutton/api/\n")
    assert run("inventory", "check", "--inventory", str(example_copy)).exit_code == 0


def test_capacity_source_url_must_be_http(example_copy: Path) -> None:
    line = append(example_copy / FLEET, "fleet_capacity_source:\n  kind: prometheus\n  url: ftp://monitor/\n")
    refused(example_copy, FLEET, "fleet_capacity_source.url", line=line + 2)


# --- 6. names, descriptions, origin server names -----------------------------------------

def test_two_tenants_claiming_one_origin_server_name_are_refused(example_copy: Path) -> None:
    edit(example_copy / TENANTS, "origin_server_names: [school.rooms-eu.example.coop]",
         "origin_server_names: [bakery.rooms-eu.example.coop]")
    refused(example_copy, TENANTS, "fleet_tenants.free-school-leipzig.origin_server_names",
            "'bakery-collective'", "'free-school-leipzig'", line=17)


@pytest.mark.parametrize(("old", "new", "key", "line"), [
    ("  cafe-montreal:\n", "  " + "c" * 64 + ":\n", "fleet_tenants." + "c" * 64 + ".name", 25),
    ("  cafe-montreal:\n", '  "cafe\\nmontreal":\n', "fleet_tenants.'cafe\\nmontreal'.name", 25),
    ("  cafe-montreal:\n", '  "":\n', "fleet_tenants..name", 25),
    ("sso_client: cafe-montreal", "sso_client: \"cafe\\u0007\"", "fleet_tenants.cafe-montreal.sso_client", 29),
])
def test_bad_tenant_name_is_refused(example_copy: Path, old: str, new: str, key: str, line: int) -> None:
    edit(example_copy / TENANTS, old, new)
    refused(example_copy, TENANTS, key, line=line)


@pytest.mark.parametrize("host", ['"bbb\\nevil.example.coop"', "b" * 254, '""'])
def test_bad_host_name_is_refused(example_copy: Path, host: str) -> None:
    edit(example_copy / "hosts.yml", "    monitoring:\n      hosts:\n",
         f"    monitoring:\n      hosts:\n        {host}:\n")
    refused(example_copy, "hosts.yml", "host name")


@pytest.mark.parametrize("description", ['"two\\nlines"', '"a bell \\a"', "x" * 201])
def test_description_is_one_bounded_line(example_copy: Path, description: str) -> None:
    edit(example_copy / FLEET, "description: A school or an association with weekly assemblies",
         f"description: {description}")
    refused(example_copy, FLEET, "fleet_plans.medium.description", line=19)


# --- 9. a value from group_vars is reported where it is written ---------------------------

def test_bad_checksum_algorithm_in_group_vars_is_reported_there(example_copy: Path) -> None:
    edit(example_copy / "group_vars/bbb.yml", "fleet_bbb_checksum_algorithm: sha256",
         "fleet_bbb_checksum_algorithm: md5")
    output = refused(example_copy, "group_vars/bbb.yml", "fleet_bbb_checksum_algorithm", line=3)
    assert "host_vars" not in output and "hosts.yml" not in output


def test_bad_api_url_in_group_vars_is_reported_there(example_copy: Path) -> None:
    line = append(example_copy / "group_vars/bbb.yml", "fleet_bbb_api_url: 'ftp://{{ inventory_hostname }}/x'\n")
    output = refused(example_copy, "group_vars/bbb.yml", "fleet_bbb_api_url", line=line)
    assert "host_vars" not in output and "hosts.yml" not in output


def test_bad_server_type_in_group_vars_all_is_reported_there(example_copy: Path) -> None:
    edit(example_copy / "host_vars/sso.example.coop.yml", "fleet_hcloud_server_type: cpx21\n", "")
    line = append(example_copy / "group_vars/all/extra.yml", "fleet_hcloud_server_type: 'cpx 21'\n")
    output = refused(example_copy, "group_vars/all/extra.yml", "sso.example.coop.fleet_hcloud_server_type",
                     line=line)
    assert "host_vars" not in output


def test_bad_state_in_group_vars_is_reported_there(example_copy: Path) -> None:
    edit(example_copy / CA1, "fleet_bbb_state: active\n", "")
    line = append(example_copy / "group_vars/bbb.yml", "fleet_bbb_state: paused\n")
    output = refused(example_copy, "group_vars/bbb.yml", "bbb-ca-1.example.coop.fleet_bbb_state", line=line)
    assert CA1 not in output


def test_tenant_field_error_names_the_fields_line(example_copy: Path) -> None:
    edit(example_copy / TENANTS, "    region: ca\n    bbb_server: bbb-ca-1.example.coop\n    sso_client: cafe",
         "    region: asia\n    bbb_server: bbb-ca-1.example.coop\n    sso_client: cafe")
    refused(example_copy, TENANTS, "fleet_tenants.cafe-montreal.region", line=27)
