"""Which playbooks on which hosts a tenant's change runs (meetfleet.rollout.plan), on the
repository's example and lab inventories: an addition and a removal of the same tenant run
the same jobs, each limited to the hosts that read the tenant."""

from __future__ import annotations

import pytest

from meetfleet.fleet import Fleet, Tenant, load_inventory
from meetfleet.rollout.plan import tenant_rollout
from meetfleet.rollout.run import Job
from tests.conftest import EXAMPLE_INVENTORY, LAB_INVENTORY


@pytest.fixture(scope="module")
def lab() -> Fleet:
    return load_inventory(LAB_INVENTORY)


@pytest.fixture(scope="module")
def example() -> Fleet:
    return load_inventory(EXAMPLE_INVENTORY)


def with_tenant(fleet: Fleet, tenant: Tenant) -> Fleet:
    return fleet.model_copy(update={"tenants": {**fleet.tenants, tenant.name: tenant}})


DEDICATED = {"name": "weavers-guild", "plan": "small", "region": "eu", "sso_client": "weavers-guild",
             "origin_server_names": ["weavers.rooms-eu.lab"]}


def test_a_dedicated_tenant_in_the_lab_touches_its_greenlight_host_its_lab_server_and_then_monitoring(lab):
    tenant = Tenant(**DEDICATED, bbb_server="bbb-eu-2.lab", greenlight="rooms-eu.lab")
    waves = tenant_rollout(lab, with_tenant(lab, tenant), tenant.name)
    assert waves == [
        [Job("gateway.yml", ("gw.lab",)), Job("sso.yml", ("sso.lab",)), Job("nextcloud.yml", ("cloud.lab",)),
         Job("greenlight.yml", ("rooms-eu.lab",)), Job("bbb.yml", ("bbb-eu-2.lab",))],
        [Job("monitoring.yml", ("monitor.lab",))],
    ]
    # Its removal undoes the same hosts' share of it.
    assert tenant_rollout(with_tenant(lab, tenant), lab, tenant.name) == waves


def test_a_shared_tenant_on_real_hosts_touches_no_greenlight_and_no_bbb_server(example):
    tenant = Tenant(name="lone-translator", plan="small", region="eu", bbb_server="bbb-eu-1.example.coop")
    waves = tenant_rollout(example, with_tenant(example, tenant), tenant.name)
    # No gateway in the example fleet; a real BBB server reads no tenant; the capacity
    # exporter on the monitoring host attributes its meetings.
    assert waves == [[Job("sso.yml", ("sso.example.coop",)), Job("nextcloud.yml", ("cloud.example.coop",))],
                     [Job("monitoring.yml", ("monitor.example.coop",))]]


def test_a_dedicated_tenant_on_real_hosts_gets_its_greenlight_and_monitoring(example):
    tenant = Tenant(**{**DEDICATED, "origin_server_names": ["weavers.rooms-eu.example.coop"]},
                    bbb_server="bbb-eu-1.example.coop", greenlight="rooms-eu.example.coop")
    waves = tenant_rollout(example, with_tenant(example, tenant), tenant.name)
    assert [job.playbook for job in waves[0]] == ["sso.yml", "nextcloud.yml", "greenlight.yml"]
    assert waves[1] == [Job("monitoring.yml", ("monitor.example.coop",))]


def test_a_tenant_moved_between_greenlight_hosts_touches_both(lab):
    other = lab.model_copy(update={"hosts": {**lab.hosts, "rooms-eu-2.lab": lab.hosts["rooms-eu.lab"].model_copy(
        update={"name": "rooms-eu-2.lab"})}})
    tenant = Tenant(**DEDICATED, bbb_server="bbb-eu-2.lab", greenlight="rooms-eu.lab")
    moved = tenant.model_copy(update={"greenlight": "rooms-eu-2.lab", "bbb_server": "bbb-eu-1.lab"})
    waves = tenant_rollout(with_tenant(other, tenant), with_tenant(other, moved), tenant.name)
    jobs = {job.playbook: job.hosts for wave in waves for job in wave}
    assert jobs["greenlight.yml"] == ("rooms-eu-2.lab", "rooms-eu.lab")
    assert jobs["bbb.yml"] == ("bbb-eu-1.lab", "bbb-eu-2.lab")


def test_a_fleet_without_hosts_that_read_tenants_runs_nothing(example):
    bare = example.model_copy(update={"sso": None, "hosts": {
        name: host for name, host in example.hosts.items() if "bbb" in host.roles}})
    tenant = Tenant(name="lone-translator", plan="small", region="eu", bbb_server="bbb-eu-1.example.coop")
    assert tenant_rollout(bare, with_tenant(bare, tenant), tenant.name) == []


def test_a_new_plan_touches_the_gateway_and_in_the_lab_the_synthetic_load_only(lab):
    tenant = lab.tenants["bakery-collective"]
    bigger = with_tenant(lab, tenant.model_copy(update={"plan": "medium"}))
    assert tenant_rollout(lab, bigger, tenant.name) == [
        [Job("gateway.yml", ("gw.lab",)), Job("bbb.yml", (tenant.bbb_server,))],
        [Job("monitoring.yml", ("monitor.lab",))]]


def test_a_move_touches_the_gateway_its_greenlight_and_both_lab_servers(lab):
    tenant = lab.tenants["bakery-collective"]
    target = next(name for name, host in lab.bbb_servers.items() if host.region == "eu" and name != tenant.bbb_server)
    moved = with_tenant(lab, tenant.model_copy(update={"bbb_server": target}))
    waves = tenant_rollout(lab, moved, tenant.name)
    jobs = {job.playbook: job.hosts for wave in waves for job in wave}
    assert set(jobs) == {"gateway.yml", "greenlight.yml", "bbb.yml", "monitoring.yml"}  # not Keycloak nor Nextcloud
    assert jobs["bbb.yml"] == tuple(sorted({tenant.bbb_server, target}))
    assert jobs["greenlight.yml"] == (tenant.greenlight,)


def test_an_unchanged_record_needs_nothing(lab):
    assert tenant_rollout(lab, lab, "bakery-collective") == []
