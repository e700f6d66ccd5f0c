"""The fleet inventory as pyinfra groups: same hosts, groups and SSH settings as Ansible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meetfleet.fleet import open_inventory

# Ansible connection variables and the pyinfra SSH data they become.
CONNECTION_KEYS = {
    "ansible_host": "ssh_hostname",
    "ansible_port": "ssh_port",
    "ansible_user": "ssh_user",
    "ansible_ssh_private_key_file": "ssh_key",
}


def pyinfra_host_data(ansible_vars: dict[str, Any]) -> dict[str, Any]:
    """pyinfra SSH data from one host's Ansible connection variables."""
    data = {pyinfra_key: ansible_vars[key] for key, pyinfra_key in CONNECTION_KEYS.items()
            if ansible_vars.get(key) is not None}
    if "StrictHostKeyChecking=no" in str(ansible_vars.get("ansible_ssh_common_args", "")):
        # Only the lab says so (its containers get new host keys on every `lab up`).
        data["ssh_strict_host_key_checking"] = "off"
        data["ssh_known_hosts_file"] = "/dev/null"
    return data


def pyinfra_groups(directory: str | Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Groups for a pyinfra inventory file: every Ansible group, plus region_NAME groups."""
    inventory = open_inventory(directory)  # read once: fleet, variables and groups alike
    fleet = inventory.fleet
    variables = inventory.host_variables([*CONNECTION_KEYS, "ansible_ssh_common_args"])
    memberships = inventory.host_groups
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, host in fleet.hosts.items():
        data = {**pyinfra_host_data(variables[name]), "fleet_region": host.region}
        for group in sorted((memberships[name] - {"all"}) | {f"region_{host.region}"}):
            groups.setdefault(group.replace("-", "_"), []).append((name, data))
    return groups
