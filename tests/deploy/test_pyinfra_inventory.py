"""The pyinfra inventory is the fleet inventory: same hosts, groups and SSH settings."""

from __future__ import annotations

from fleet_deploys.inventory import pyinfra_groups, pyinfra_host_data
from tests.conftest import EXAMPLE_INVENTORY, LAB_INVENTORY, REPO


def test_groups_mirror_ansible_groups_and_regions() -> None:
    groups = pyinfra_groups(EXAMPLE_INVENTORY)
    names = {group: sorted(host for host, _ in hosts) for group, hosts in groups.items()}
    assert names["bbb"] == ["bbb-ca-1.example.coop", "bbb-eu-1.example.coop", "bbb-eu-2.example.coop"]
    assert names["region_ca"] == ["bbb-ca-1.example.coop"]
    assert "monitor.example.coop" in names["monitoring"]
    data = dict(groups["region_ca"])["bbb-ca-1.example.coop"]
    assert data == {"ssh_hostname": "198.51.100.21", "fleet_region": "ca"}


def test_lab_connection_data_is_rendered_like_ansible_would() -> None:
    data = dict(pyinfra_groups(LAB_INVENTORY)["bbb"])["bbb-ca-1.lab"]
    assert data["ssh_hostname"] == "127.0.0.1"
    assert data["ssh_port"] == 2223
    assert data["ssh_user"] == "root"
    assert data["ssh_key"] == str(REPO / "inventories/lab/../../.lab/ssh/id_ed25519")
    assert data["ssh_strict_host_key_checking"] == "off"


def test_real_hosts_keep_strict_host_key_checking() -> None:
    assert "ssh_strict_host_key_checking" not in pyinfra_host_data({"ansible_host": "203.0.113.5"})
