"""The container spec comes from the inventory: host names, ports, key; bad input exits 2."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from meetfleet.cli.main import cli
from meetfleet.fleet import InventoryError
from meetfleet.lab.hosts import load_lab_inventory
from meetfleet.lab.settings import LabSettings
from tests.conftest import LAB_INVENTORY, REPO


@pytest.fixture
def lab_copy(tmp_path: Path) -> Path:
    target = tmp_path / "inventories" / "lab"
    shutil.copytree(LAB_INVENTORY, target, ignore=shutil.ignore_patterns("vault.yml"))
    return target


def test_every_inventory_host_becomes_a_container_on_its_port() -> None:
    inventory = load_lab_inventory(LAB_INVENTORY)
    ports = {h.name: h.ssh_port for h in inventory.hosts}
    assert ports == {
        "bbb-ca-1.lab": 2223, "bbb-eu-1.lab": 2221, "bbb-eu-2.lab": 2222, "cloud.lab": 2227,
        "monitor.lab": 2228, "rooms-eu.lab": 2225, "sso.lab": 2226, "turn-eu-1.lab": 2224,
    }
    assert {h.name for h in inventory.hosts if h.is_bbb} == {"bbb-ca-1.lab", "bbb-eu-1.lab", "bbb-eu-2.lab"}
    # `{{ inventory_dir }}/../../.lab/ssh/id_ed25519`, rendered as Ansible would
    assert {h.ssh_key for h in inventory.hosts} == {REPO / ".lab" / "ssh" / "id_ed25519"}
    assert inventory.vault_file == LAB_INVENTORY / "group_vars" / "all" / "vault.yml"


def test_run_args_name_label_network_and_publish_sshd_on_loopback() -> None:
    host = next(h for h in load_lab_inventory(LAB_INVENTORY).hosts if h.name == "bbb-eu-1.lab")
    args = host.run_args(LabSettings(network="net-x", label_value="t1", image="localhost/img:tag"))
    assert args[:2] == ["run", "--detach"]
    pairs = dict(itertools.pairwise(args))
    assert pairs["--name"] == "bbb-eu-1.lab"
    assert pairs["--hostname"] == "bbb-eu-1.lab"
    assert pairs["--network"] == "net-x"
    assert pairs["--publish"] == "127.0.0.1:2221:22"
    assert pairs["--cap-add"] == "NET_ADMIN"
    assert "meetfleet.lab=t1" in args
    assert "--systemd=always" in args
    assert args[-2:] == ["localhost/img:tag", "/sbin/init"]


def test_key_path_follows_the_inventory_copy(lab_copy: Path) -> None:
    inventory = load_lab_inventory(lab_copy)
    assert {h.ssh_key for h in inventory.hosts} == {lab_copy.parent.parent / ".lab" / "ssh" / "id_ed25519"}


def test_duplicate_port_names_both_hosts(lab_copy: Path) -> None:
    (lab_copy / "host_vars" / "cloud.lab.yml").write_text(
        "fleet_region: eu\nfleet_provider: static\nansible_port: 2221\n")
    with pytest.raises(InventoryError) as caught:
        load_lab_inventory(lab_copy)
    message = caught.value.render()
    assert "ansible_port" in message and "2221" in message
    assert "bbb-eu-1.lab" in message or "cloud.lab" in message


@pytest.mark.parametrize(("content", "words"), [
    ("fleet_region: eu\nfleet_provider: static\n", ["sso.lab.ansible_port", "None"]),
    ("fleet_region: eu\nfleet_provider: static\nansible_port: '2226'\n", ["sso.lab.ansible_port", "'2226'"]),
    ("fleet_region: eu\nfleet_provider: static\nansible_port: 22\n", ["sso.lab.ansible_port", "1024"]),
    ("fleet_region: eu\nfleet_provider: static\nansible_port: 2226\nansible_host: 10.0.0.5\n",
     ["sso.lab.ansible_host", "127.0.0.1", "10.0.0.5"]),
])
def test_bad_connection_settings_name_file_and_key(lab_copy: Path, content: str, words: list[str]) -> None:
    path = lab_copy / "host_vars" / "sso.lab.yml"
    path.write_text(content)
    with pytest.raises(InventoryError) as caught:
        load_lab_inventory(lab_copy)
    message = caught.value.render()
    assert str(path) in message
    for word in words:
        assert word in message


def test_lab_up_refuses_bad_input_with_exit_2_before_changing_anything(lab_copy: Path) -> None:
    (lab_copy / "host_vars" / "sso.lab.yml").write_text("fleet_region: eu\nfleet_provider: static\n")
    result = CliRunner().invoke(cli, ["lab", "up", "--inventory", str(lab_copy), "--label", "never-made",
                                      "--network", "never-made"])
    assert result.exit_code == 2, result.output
    assert "sso.lab.ansible_port" in result.output
    assert not (lab_copy / "group_vars" / "all" / "vault.yml").exists()
    assert not (lab_copy.parent.parent / ".lab").exists()


def test_missing_inventory_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["lab", "status", "--inventory", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_without_podman_the_error_says_which_script_installs_it(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which no podman can be found
    result = CliRunner().invoke(cli, ["lab", "down", "--label", "never-made"])
    assert result.exit_code == 1
    assert "podman" in result.output and "scripts/setup.sh" in result.output
