"""`meetfleet cloud status` (drift between inventory and cloud) and `meetfleet ci-vm up|down|reap`,
against the stand-in (or the real API: tests/cloud/conftest.py), through the real hcloud-python client."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from meetfleet.fleet import load_inventory
from meetfleet.fleet.model import HcloudSource
from tests.cloud.conftest import Backend
from tests.helpers import run, snapshot


def make_vm(backend: Backend, name: str, labels: dict[str, str], server_type: str = "cx22",
            location: str = "fsn1") -> None:
    """A VM made behind meetfleet's back, straight through the client."""
    response = backend.client.servers.create(name=name, server_type=ServerType(name=server_type),
                                             image=Image(name="ubuntu-22.04"), location=Location(name=location),
                                             labels={**labels, **backend.mark})
    response.action.wait_until_finished()


def ours(fleet_dir: Path, **extra: str) -> dict[str, str]:
    return {"managed-by": "meetfleet", "fleet": fleet_dir.name, **extra}


def status(backend: Backend, fleet_dir: Path, *flags: str):
    return run("cloud", "status", "-i", str(fleet_dir), *flags, env=backend.env)


def test_status_reports_a_vm_made_behind_the_inventorys_back(backend: Backend, fleet_dir: Path):
    make_vm(backend, "rogue.example.coop", ours(fleet_dir, region="eu", kind="bbb"))
    make_vm(backend, "other-fleet.example.coop", {"managed-by": "meetfleet", "fleet": "someone-else"})
    make_vm(backend, "monitor.example.coop", ours(fleet_dir, region="eu", kind="monitoring"), server_type="cx32")
    before = snapshot(fleet_dir)
    result = status(backend, fleet_dir, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert not report["in_sync"]
    found = {(d["host"], d["kind"]) for d in report["drift"]}
    assert ("rogue.example.coop", "unknown_to_inventory") in found
    assert ("monitor.example.coop", "mismatch") in found  # inventory: cpx21
    assert ("bbb-eu-1.example.coop", "missing_in_cloud") in found  # fleet_provider hcloud, no VM
    assert not any(host == "other-fleet.example.coop" for host, _ in found)  # another fleet's
    assert ("bbb-ca-1.example.coop", "missing_in_cloud") not in found  # static
    assert snapshot(fleet_dir) == before  # status writes nothing

    people = status(backend, fleet_dir)
    assert people.exit_code == 1
    assert "rogue.example.coop" in people.stdout and "unknown_to_inventory" in people.stdout


def test_status_is_exit_0_when_the_cloud_has_what_the_inventory_records(backend: Backend, fleet_dir: Path):
    if backend.standin is None:
        pytest.skip("would make a VM for each of the example's hcloud hosts in the real project")
    for host in load_inventory(fleet_dir).hosts.values():
        if isinstance(host.source, HcloudSource):
            make_vm(backend, host.name, ours(fleet_dir, region=host.region, kind=sorted(host.roles)[0]),
                    host.source.server_type, host.source.location)
    make_vm(backend, "ci-1", ours(fleet_dir, region="eu", kind="ci-vm", expires=str(int(time.time()) + 600)))
    result = status(backend, fleet_dir, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["in_sync"] and report["drift"] == [] and [v["name"] for v in report["ci_vms"]] == ["ci-1"]


def test_status_without_a_token_is_exit_2(backend: Backend, fleet_dir: Path):
    result = run("cloud", "status", "-i", str(fleet_dir), "--json", env={**backend.env, "HCLOUD_TOKEN": ""})
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["kind"] == "missing_token"


def test_reap_deletes_only_this_fleets_expired_ci_vms(backend: Backend, fleet_dir: Path):
    now = int(time.time())
    make_vm(backend, "ci-expired", ours(fleet_dir, region="eu", kind="ci-vm", expires=str(now - 60)))
    make_vm(backend, "ci-running", ours(fleet_dir, region="eu", kind="ci-vm", expires=str(now + 3600)))
    make_vm(backend, "ci-other-fleet", {"managed-by": "meetfleet", "fleet": "someone-else", "kind": "ci-vm",
                                        "expires": str(now - 60)})
    make_vm(backend, "bbb-eu-9.example.coop", ours(fleet_dir, region="eu", kind="bbb"))  # no expiry, not a CI VM
    result = run("ci-vm", "reap", "-i", str(fleet_dir), "--json", env=backend.env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deleted": ["ci-expired"], "kept": ["ci-running"]}
    made = {"ci-expired", "ci-running", "ci-other-fleet", "bbb-eu-9.example.coop"}
    left = sorted(s.name for s in backend.client.servers.get_all() if s.name in made)
    assert left == ["bbb-eu-9.example.coop", "ci-other-fleet", "ci-running"]


def test_ci_vm_up_is_labelled_with_its_expiry_and_down_deletes_it(backend: Backend, fleet_dir: Path):
    before = snapshot(fleet_dir)
    start = int(time.time())
    up = run("ci-vm", "up", "ci-molecule-1", "--ttl", "2h", "-i", str(fleet_dir), "--json", env=backend.env)
    assert up.exit_code == 0, up.output
    created = json.loads(up.stdout)
    assert created["created"] and start + 7200 <= created["expires_at"] <= int(time.time()) + 7200
    vm = backend.client.servers.get_all(name="ci-molecule-1")[0]
    assert vm.labels == ours(fleet_dir, region="eu", kind="ci-vm", expires=str(created["expires_at"]))
    again = run("ci-vm", "up", "ci-molecule-1", "-i", str(fleet_dir), "--json", env=backend.env)
    assert again.exit_code == 0 and not json.loads(again.stdout)["created"]
    assert len(backend.client.servers.get_all(name="ci-molecule-1")) == 1
    down = run("ci-vm", "down", "ci-molecule-1", "-i", str(fleet_dir), "--json", env=backend.env)
    assert down.exit_code == 0 and json.loads(down.stdout) == {"vm": "ci-molecule-1", "deleted": True}
    assert backend.client.servers.get_all(name="ci-molecule-1") == []
    assert snapshot(fleet_dir) == before  # CI VMs are not recorded in the inventory


def test_ci_vm_down_refuses_a_vm_that_is_not_a_ci_vm(backend: Backend, fleet_dir: Path):
    make_vm(backend, "bbb-eu-9.example.coop", ours(fleet_dir, region="eu", kind="bbb"))
    result = run("ci-vm", "down", "bbb-eu-9.example.coop", "-i", str(fleet_dir), "--json", env=backend.env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["kind"] == "not_a_ci_vm"
    assert len(backend.client.servers.get_all(name="bbb-eu-9.example.coop")) == 1


@pytest.mark.parametrize(("args", "named"), [
    (("up", "ci-1", "--ttl", "forever"), "--ttl"),
    (("up", "ci-1", "--region", "ca"), "--region"),
    (("up", "Bad Name"), "NAME"),
])
def test_ci_vm_bad_input_is_exit_2(backend: Backend, fleet_dir: Path, args, named):
    result = run("ci-vm", *args, "-i", str(fleet_dir), "--json", env=backend.env)
    assert result.exit_code == 2, result.output
    assert named in json.loads(result.stdout)["error"]["message"]
    if backend.standin:
        assert backend.standin.requests == []


def test_a_refused_token_is_exit_1_and_never_printed(backend: Backend, fleet_dir: Path):
    secret = "wrong-token-that-must-not-be-printed"
    result = run("cloud", "status", "-i", str(fleet_dir), "--json", env={**backend.env, "HCLOUD_TOKEN": secret})
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "cloud_failed" and "unauthorized" in error["message"]
    assert secret not in result.output and secret not in result.stderr
