"""The keycloak role's filter (roles/keycloak/filter_plugins/meetfleet_sso.py): called as
Ansible calls it, it gives the realm `meetfleet inventory check` validates, and refuses
what the check refuses with a message naming the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from meetfleet.fleet import load_inventory
from meetfleet.sso import realm_of
from tests.conftest import EXAMPLE_INVENTORY, REPO

PLUGINS = REPO / "roles" / "keycloak" / "filter_plugins"
CALL = "{{ fleet_sso | meetfleet_keycloak_realm(fleet_tenants, groups, hostvars) }}"


def _filter() -> Any:
    """The filter as Ansible's plugin loader finds it in the role's filter_plugins."""
    filter_loader.add_directory(str(PLUGINS))
    found = filter_loader.get("meetfleet_keycloak_realm")
    assert found is not None, "Ansible's filter loader does not find meetfleet_keycloak_realm"
    return found.j2_function  # what Jinja calls


def _variables(inventory: Path = EXAMPLE_INVENTORY) -> tuple[dict, dict, dict]:
    """fleet_sso, fleet_tenants and groups as the role has them (plain YAML values)."""
    sso = yaml.safe_load((inventory / "group_vars/all/sso.yml").read_text())["fleet_sso"]
    tenants = yaml.safe_load((inventory / "group_vars/all/tenants.yml").read_text())["fleet_tenants"]
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())["all"]["children"]
    groups = {name: sorted(body["hosts"]) for name, body in hosts.items()}
    return sso, tenants, groups


def test_the_filter_gives_the_realm_the_inventory_check_computes() -> None:
    sso, tenants, groups = _variables()
    assert _filter()(sso, tenants, groups, {}) == realm_of(load_inventory(EXAMPLE_INVENTORY))


def test_the_module_exposes_the_filter_by_its_name() -> None:
    sys.path.insert(0, str(PLUGINS))
    try:
        import meetfleet_sso
    finally:
        sys.path.remove(str(PLUGINS))
    assert sorted(meetfleet_sso.FilterModule().filters()) == ["meetfleet_keycloak_realm"]


def test_ansible_renders_the_role_s_call_with_the_real_inventory() -> None:
    # the way the role's defaults call it: Ansible's own variables, groups and hostvars
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "-i",
            str(EXAMPLE_INVENTORY),
            "sso.example.coop",
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg={CALL}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_FILTER_PLUGINS": str(PLUGINS),
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "json",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["sso.example.coop"]
    assert result["msg"] == realm_of(load_inventory(EXAMPLE_INVENTORY))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda sso, tenants, groups: sso.update(public_url="http://sso.example.coop"),
            "fleet_sso.public_url: must be an https:// URL",
        ),
        (lambda sso, tenants, groups: sso["smtp"].update(port=70000), "fleet_sso.smtp.port:"),
        (
            lambda sso, tenants, groups: sso["smtp"].update(password="hunter2"),
            "fleet_sso.smtp: password: never the value",
        ),
        (
            lambda sso, tenants, groups: tenants["free-school-leipzig"].update(sso_client="bakery-collective"),
            "fleet_tenants.free-school-leipzig.sso_client: 'bakery-collective' is also the sso_client of tenant",
        ),
        (
            lambda sso, tenants, groups: tenants["housing-federation"].update(sso_client="nextcloud"),
            "fleet_tenants.housing-federation.sso_client: 'nextcloud' is the id of",
        ),
        (
            lambda sso, tenants, groups: groups.update(greenlight=[]),
            "fleet_tenants.bakery-collective.greenlight: 'rooms-eu.example.coop' is not a host in the greenlight group",
        ),
        (
            lambda sso, tenants, groups: tenants["bakery-collective"].pop("origin_server_names"),
            "fleet_tenants.bakery-collective.origin_server_names: is required",
        ),
        (lambda sso, tenants, groups: tenants.update(bad="plan: small"), "fleet_tenants.bad: must be a mapping"),
        (lambda sso, tenants, groups: tenants["cafe-montreal"].update(plan=3), "fleet_tenants.cafe-montreal.plan:"),
    ],
)
def test_what_the_check_refuses_is_an_ansible_filter_error_naming_the_key(change: Any, words: str) -> None:
    sso, tenants, groups = _variables()
    change(sso, tenants, groups)
    with pytest.raises(AnsibleFilterError) as caught:
        _filter()(sso, tenants, groups, {})
    assert words in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("fleet_sso", [None, "https://sso.example.coop", ["realm"]])
def test_a_fleet_sso_that_is_not_a_mapping_is_refused(fleet_sso: Any) -> None:
    _, tenants, groups = _variables()
    with pytest.raises(AnsibleFilterError, match="fleet_sso must be a mapping"):
        _filter()(fleet_sso, tenants, groups, {})
