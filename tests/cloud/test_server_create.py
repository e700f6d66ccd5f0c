"""`meetfleet server create|delete` against the stand-in (or the real API: tests/cloud/conftest.py),
driven through the real hcloud-python client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hcloud.firewalls import FirewallResource
from hcloud.images import Image
from hcloud.server_types import ServerType

from meetfleet.cloud.plan import fingerprint
from meetfleet.fleet import load_inventory
from meetfleet.fleet.model import HcloudSource, ServerState
from tests.cloud.conftest import ALICE, Backend
from tests.helpers import flat, run, snapshot

NEW = "bbb-eu-3.example.coop"


def create(backend: Backend, fleet_dir: Path, *args: str):
    return run("server", "create", *args, "-i", str(fleet_dir), "--json", env=backend.env)


def test_create_twice_makes_one_vm_and_records_it_cordoned(backend: Backend, fleet_dir: Path):
    first = create(backend, fleet_dir, NEW, "--region", "eu", "--kind", "bbb")
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert result["vm_created"] and result["recorded"] and result["firewall"] == "created"

    servers = backend.client.servers.get_all(name=NEW)
    assert len(servers) == 1
    vm = servers[0]
    assert vm.labels == {"managed-by": "meetfleet", "fleet": fleet_dir.name, "region": "eu", "kind": "bbb"}
    assert (vm.server_type.name, vm.location.name) == ("cx32", "fsn1")

    fleet = load_inventory(fleet_dir)
    host = fleet.hosts[NEW]
    assert host.bbb is not None and host.bbb.state == ServerState.CORDONED  # placement leaves it alone
    assert host.source == HcloudSource(location="fsn1", server_type="cx32", image="ubuntu-22.04")
    assert host.address == vm.public_net.ipv4.ip
    assert host.bbb.capacity == 50 * vm.server_type.cores
    assert f"        {NEW}:\n" in (fleet_dir / "hosts.yml").read_text()  # under bbb's hosts

    # the admins' keys of base_admin_users, and base's ports for a BBB server
    fingerprints = {k.fingerprint for k in backend.client.ssh_keys.get_all()}
    assert fingerprint(ALICE) in fingerprints
    firewall = backend.client.firewalls.get_all(name=NEW)[0]
    rules = {(r.protocol, r.port) for r in firewall.rules}
    assert {("tcp", "22"), ("tcp", "80"), ("tcp", "443"), ("udp", "16384-32768"), ("icmp", None)} <= rules
    exporter = next(r for r in firewall.rules if r.port == "9100")
    assert exporter.source_ips == ["203.0.113.60/32"]  # the monitoring host only

    before = snapshot(fleet_dir)
    second = create(backend, fleet_dir, NEW, "--region", "eu", "--kind", "bbb")
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert not again["changed"] and not again["vm_created"] and again["firewall"] == "unchanged"
    assert len(backend.client.servers.get_all(name=NEW)) == 1
    assert snapshot(fleet_dir) == before
    if backend.standin:
        assert backend.standin.calls("POST", "/v1/servers") == 1


def test_a_vm_of_that_name_that_is_not_ours_is_left_alone(backend: Backend, fleet_dir: Path):
    backend.client.servers.create(name=NEW, server_type=ServerType(name="cx22"), image=Image(name="ubuntu-22.04"),
                                  labels={"owner": "someone-else", **backend.mark}).action.wait_until_finished()
    before = snapshot(fleet_dir)
    result = create(backend, fleet_dir, NEW, "--region", "eu", "--kind", "bbb")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["kind"] == "name_taken"
    assert snapshot(fleet_dir) == before


def test_a_region_without_a_hetzner_location_registers_a_static_host(backend: Backend, fleet_dir: Path):
    env = {**backend.env, "HCLOUD_TOKEN": ""}  # no cloud needed
    args = ("server", "create", "bbb-ca-2.example.coop", "--region", "ca", "--kind", "bbb",
            "--address", "198.51.100.22", "--cpus", "8", "-i", str(fleet_dir), "--json")
    result = run(*args, env=env)
    assert result.exit_code == 0, result.output
    host = load_inventory(fleet_dir).hosts["bbb-ca-2.example.coop"]
    assert host.source.kind == "static" and host.address == "198.51.100.22"
    assert host.bbb is not None and host.bbb.state == ServerState.CORDONED and host.bbb.capacity == 400
    before = snapshot(fleet_dir)
    again = run(*args, env=env)
    assert again.exit_code == 0 and not json.loads(again.stdout)["changed"]
    assert snapshot(fleet_dir) == before
    if backend.standin:
        assert backend.standin.requests == []


@pytest.mark.parametrize(("args", "env_change", "named", "kind"), [
    (("bbb-eu-3.example.coop", "--region", "mars", "--kind", "bbb"), {}, "--region", "unknown_region"),
    (("bbb-eu-3.example.coop", "--region", "eu", "--kind", "database"), {}, "--kind", "usage"),
    (("Not_A_Host!", "--region", "eu", "--kind", "bbb"), {}, "NAME", "bad_server_name"),
    (("bbb-eu-3.example.coop", "--region", "eu", "--kind", "bbb"), {"HCLOUD_TOKEN": ""}, "HCLOUD_TOKEN",
     "missing_token"),
    (("bbb-ca-2.example.coop", "--region", "ca", "--kind", "bbb"), {}, "--address", "address_required"),
    (("bbb-eu-3.example.coop", "--region", "eu", "--kind", "bbb", "--address", "192.0.2.9"), {}, "--address",
     "address_not_allowed"),
])
def test_bad_input_is_exit_2_naming_the_argument_and_changes_nothing(backend: Backend, fleet_dir: Path, args,
                                                                     env_change, named, kind):
    before = snapshot(fleet_dir)
    result = run("server", "create", *args, "-i", str(fleet_dir), "--json", env={**backend.env, **env_change})
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == kind and named in error["message"] and error["exit_code"] == 2
    assert named in result.stderr
    assert snapshot(fleet_dir) == before
    if backend.standin:
        assert backend.standin.requests == []  # refused before any call


def test_delete_is_refused_while_a_tenant_is_placed_on_the_server(backend: Backend, fleet_dir: Path):
    before = snapshot(fleet_dir)
    result = run("server", "delete", "bbb-eu-1.example.coop", "-i", str(fleet_dir), "--json", env=backend.env)
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "server_has_tenants"
    assert error["tenants"] == ["bakery-collective", "free-school-leipzig"]
    assert snapshot(fleet_dir) == before
    if backend.standin:
        assert backend.standin.requests == []


def test_delete_retires_then_deletes_the_vm_and_firewall_then_removes_the_host(backend: Backend, fleet_dir: Path):
    assert create(backend, fleet_dir, NEW, "--region", "eu", "--kind", "bbb").exit_code == 0
    result = run("server", "delete", NEW, "-i", str(fleet_dir), "--json", env=backend.env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"server": NEW, "retired_first": True, "vm_deleted": True,
                                         "firewall_deleted": True, "removed": True}
    assert backend.client.servers.get_all(name=NEW) == []
    assert backend.client.firewalls.get_all(name=NEW) == []
    assert NEW not in load_inventory(fleet_dir).hosts
    assert NEW not in (fleet_dir / "hosts.yml").read_text()
    assert not (fleet_dir / "host_vars" / f"{NEW}.yml").exists()


def test_a_failed_vm_deletion_leaves_the_host_retired_in_the_inventory(backend: Backend, fleet_dir: Path):
    if backend.standin is None:
        pytest.skip("the stand-in makes the deletion fail; the real API cannot be asked to")
    assert create(backend, fleet_dir, NEW, "--region", "eu", "--kind", "bbb").exit_code == 0
    backend.standin.refuse.add("delete_server")
    result = run("server", "delete", NEW, "-i", str(fleet_dir), "--json", env=backend.env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["kind"] == "cloud_failed"
    assert load_inventory(fleet_dir).hosts[NEW].bbb.state == ServerState.RETIRED  # retired before the VM went
    assert len(backend.client.servers.get_all(name=NEW)) == 1


def test_people_are_told_what_was_done_and_what_comes_next(backend: Backend, fleet_dir: Path):
    args = ("server", "create", NEW, "--region", "eu", "--kind", "bbb", "-i", str(fleet_dir))
    first = run(*args, env=backend.env)
    assert first.exit_code == 0, first.output
    said = flat(first.stdout)
    assert f"created the VM and recorded {NEW} (bbb, region eu)" in said
    assert f"meetfleet server uncordon {NEW}" in said
    again = run(*args, env=backend.env)
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    gone = run("server", "delete", NEW, "-i", str(fleet_dir), env=backend.env)
    assert gone.exit_code == 0, gone.output
    assert f"deleted {NEW} (retired, VM deleted, firewall deleted, removed from the inventory)" in flat(gone.stdout)


def test_a_firewall_deleted_behind_our_back_is_made_again_and_applied(backend: Backend, fleet_dir: Path):
    assert create(backend, fleet_dir, NEW, "--region", "eu", "--kind", "bbb").exit_code == 0
    vm = backend.client.servers.get_all(name=NEW)[0]
    old = backend.client.firewalls.get_all(name=NEW)[0]
    for action in backend.client.firewalls.remove_from_resources(old, [FirewallResource(type="server", server=vm)]):
        action.wait_until_finished()
    backend.client.firewalls.delete(old)
    before = snapshot(fleet_dir)
    again = create(backend, fleet_dir, NEW, "--region", "eu", "--kind", "bbb")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["firewall"] == "created, applied"
    firewall = backend.client.firewalls.get_all(name=NEW)[0]
    vm = backend.client.servers.get_all(name=NEW)[0]
    assert [f.firewall.id for f in vm.public_net.firewalls] == [firewall.id]
    assert snapshot(fleet_dir) == before  # the record did not change
