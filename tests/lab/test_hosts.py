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
from meetfleet.lab.up import made_for_other_secrets, published_ports
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
        "monitor.lab": 2228, "rooms-eu.lab": 2225, "sso.lab": 2226, "turn-eu-1.lab": 2224, "gw.lab": 2229,
    }
    assert {h.name for h in inventory.hosts if h.is_bbb} == {"bbb-ca-1.lab", "bbb-eu-1.lab", "bbb-eu-2.lab"}
    # `{{ inventory_dir }}/../../.lab/ssh/id_ed25519`, rendered as Ansible would
    assert {h.ssh_key for h in inventory.hosts} == {REPO / ".lab" / "ssh" / "id_ed25519"}
    assert inventory.vault_file == LAB_INVENTORY / "group_vars" / "all" / "vault.yml"


def test_run_args_name_label_network_and_publish_sshd_on_loopback() -> None:
    host = next(h for h in load_lab_inventory(LAB_INVENTORY).hosts if h.name == "bbb-eu-1.lab")
    args = host.run_args(LabSettings(network="net-x", label_value="t1", image="localhost/img:tag"), "id-1")
    assert args[:2] == ["run", "--detach"]
    assert "meetfleet.lab.secrets=id-1" in args
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


def test_monitor_publishes_the_exporter_on_loopback_for_the_capacity_source() -> None:
    inventory = load_lab_inventory(LAB_INVENTORY)
    monitor = next(h for h in inventory.hosts if h.name == "monitor.lab")
    assert monitor.published_ports == ((19840, 9840), (19090, 9090))
    args = monitor.run_args(LabSettings())
    published = [b for a, b in itertools.pairwise(args) if a == "--publish"]
    assert published == ["127.0.0.1:2228:22", "127.0.0.1:19840:9840", "127.0.0.1:19090:9090"]
    # what the lab's fleet_capacity_source reads is exactly one of those ports: Prometheus's
    assert inventory.fleet.capacity_source is not None
    assert inventory.fleet.capacity_source.url == "http://127.0.0.1:19090"
    # and the gateway's nginx, which tests/playbooks/test_lab_gateway.py calls; nothing else
    assert {h.name: h.published_ports for h in inventory.hosts if h.published_ports} == {
        "monitor.lab": ((19840, 9840), (19090, 9090)), "gw.lab": ((19443, 443),)}


@pytest.mark.parametrize("value", [["19840"], ["80:9840"], ["19840:22"], ["x:1"], "19840:9840", [19840]])
def test_bad_published_ports_exit_2_naming_the_key(lab_copy: Path, value: object) -> None:
    host_file = lab_copy / "host_vars" / "monitor.lab.yml"
    text = host_file.read_text().split("lab_published_ports:")[0]
    host_file.write_text(text + f"lab_published_ports: {value!r}\n".replace("'", '"'))
    result = CliRunner().invoke(cli, ["lab", "status", "--inventory", str(lab_copy)])
    assert result.exit_code == 2, result.output
    assert "monitor.lab.lab_published_ports" in result.output
    assert str(host_file) in result.output


def test_published_port_taken_by_another_host_names_both(lab_copy: Path) -> None:
    host_file = lab_copy / "host_vars" / "cloud.lab.yml"
    host_file.write_text(host_file.read_text() + 'lab_published_ports: ["19840:80"]\n')
    with pytest.raises(InventoryError) as caught:
        load_lab_inventory(lab_copy)
    [problem] = caught.value.problems
    assert problem.file == lab_copy / "host_vars" / "monitor.lab.yml"
    assert problem.key == "monitor.lab.lab_published_ports"
    assert problem.message.startswith("port 19840 on 127.0.0.1 is also cloud.lab's")


def test_published_ports_read_back_from_podman_inspect() -> None:
    info = {"HostConfig": {"PortBindings": {
        "22/tcp": [{"HostIp": "127.0.0.1", "HostPort": "2228"}],
        "9840/tcp": [{"HostIp": "127.0.0.1", "HostPort": "19840"}],
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
    }}}
    assert published_ports(info) == {(19840, 9840)}
    assert published_ports({}) == set()


def test_a_container_made_for_another_vault_is_remade() -> None:
    made_for = lambda labels: {"Config": {"Labels": labels}}  # noqa: E731
    assert not made_for_other_secrets(made_for({"meetfleet.lab.secrets": "id-1"}), "id-1")
    assert made_for_other_secrets(made_for({"meetfleet.lab.secrets": "id-2"}), "id-1")
    assert made_for_other_secrets(made_for({}), "id-1")  # made before containers carried it
    assert made_for_other_secrets({}, "id-1")
