"""Which Greenlight instances a host runs (meetfleet.greenlight), computed from the
inventories without a server, and the numbers each keeps (allocate); the role's filter
plugin called as Ansible calls it."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from meetfleet.fleet import load_inventory
from meetfleet.fleet.model import Tenant
from meetfleet.greenlight import (
    GreenlightError,
    allocate,
    dedicated_host,
    fleet_secret_variables,
    host_instances,
    shared_host,
)
from tests.conftest import LAB_INVENTORY, REPO

PLUGINS = REPO / "roles" / "greenlight" / "filter_plugins"


@pytest.fixture(scope="module")
def lab():
    return load_inventory(LAB_INVENTORY)


def greenlight_hosts(fleet) -> set[str]:
    return {name for name, host in fleet.hosts.items() if "greenlight" in host.roles}


def instances_of(fleet, host="rooms-eu.lab", tenants=None, shared_tenant="cafe-montreal", **kwargs):
    tenants = list(fleet.tenants.values()) if tenants is None else tenants
    return host_instances(host, tenants, fleet.sso, greenlight_hosts(fleet), shared_tenant, **kwargs)


def test_the_lab_host_runs_each_tenant_greenlight_and_the_shared_one(lab):
    instances = {i.name: i for i in instances_of(lab)}
    own = sorted(t.name for t in lab.tenants.values() if t.greenlight == "rooms-eu.lab")
    assert sorted(instances) == sorted([*own, "shared"])
    bakery = instances["bakery-collective"]
    assert (bakery.kind, bakery.tenant, bakery.site_names) == ("dedicated", "bakery-collective",
                                                               ("bakery.rooms-eu.lab",))
    assert (bakery.sso_client, bakery.sso_secret_variable) == (
        "bakery-collective", "vault_sso_client_secret_bakery_collective")
    assert bakery.gateway_secret_variable == "vault_gateway_secret_bakery_collective"
    assert bakery.bbb_server == lab.tenants["bakery-collective"].bbb_server
    shared = instances["shared"]
    assert (shared.kind, shared.tenant, shared.site_names, shared.sso_client) == (
        "shared", "cafe-montreal", ("rooms-eu.lab",), "shared-greenlight")
    assert len({i.db_name for i in instances.values()}) == len(instances)
    assert len({i.secret_variable for i in instances.values()}) == len(instances)


def test_every_instance_secret_is_one_the_lab_vault_gets(lab):
    wanted = {i.secret_variable for i in instances_of(lab)}
    assert wanted == set(fleet_secret_variables(lab.tenants.values(), lab.sso))


def test_a_tenant_added_adds_exactly_its_instance_and_one_moved_away_drops_only_its_own(lab):
    before = {i.name: i for i in instances_of(lab)}
    newcomer = Tenant(name="food.coop", plan="small", region="eu", greenlight="rooms-eu.lab",
                      sso_client="food-coop", origin_server_names=("food.rooms-eu.lab",))
    after = {i.name: i for i in instances_of(lab, tenants=[*lab.tenants.values(), newcomer])}
    assert set(after) - set(before) == {"food.coop"}
    assert {name: after[name] for name in before} == before
    assert after["food.coop"].db_name == "greenlight_food_coop"
    moved = [t.model_copy(update={"greenlight": None}) if t.name == "housing-federation" else t
             for t in lab.tenants.values()]
    assert set(before) - {i.name for i in instances_of(lab, tenants=moved)} == {"housing-federation"}


def test_a_host_without_tenants_runs_nothing_and_the_shared_one_only_where_it_belongs(lab):
    others = [t for t in lab.tenants.values() if t.greenlight != "rooms-eu.lab"]
    assert [i.name for i in instances_of(lab, tenants=others)] == ["shared"]
    hosts = {"rooms-eu.lab", "rooms-ca.lab"}
    assert shared_host(lab.sso, hosts) == "rooms-eu.lab"  # the URL names it
    assert shared_host(lab.sso, hosts, "rooms-ca.lab") == "rooms-ca.lab"
    assert shared_host(lab.sso, {"rooms-ca.lab"}) == "rooms-ca.lab"  # the group's only host
    assert shared_host(None, hosts) is None


@pytest.mark.parametrize(("change", "says"), [
    (lambda ts: [*ts, Tenant(name="shared", plan="small", region="eu", greenlight="rooms-eu.lab",
                             sso_client="x", origin_server_names=("x.lab",))],
     "fleet_tenants.shared: 'shared' is the shared Greenlight's instance name"),
    (lambda ts: [*ts, Tenant(name="siteless", plan="small", region="eu", greenlight="rooms-eu.lab",
                             sso_client="siteless")],
     "fleet_tenants.siteless: a tenant with its own Greenlight needs sso_client and origin_server_names"),
    (lambda ts: [*ts, Tenant(name="food-coop", plan="small", region="eu", greenlight="rooms-eu.lab",
                             sso_client="a", origin_server_names=("a.lab",)),
                 Tenant(name="food.coop", plan="small", region="eu", greenlight="rooms-eu.lab",
                        sso_client="b", origin_server_names=("b.lab",))],
     "greenlight instances 'food-coop' and 'food.coop' would share the database 'greenlight_food_coop'"),
    (lambda ts: [*ts, Tenant(name="copycat", plan="small", region="eu", greenlight="rooms-eu.lab",
                             sso_client="copycat", origin_server_names=("bakery.rooms-eu.lab",))],
     "would share the site 'bakery.rooms-eu.lab'"),
])
def test_instances_that_cannot_be_made_are_refused_naming_why(lab, change, says):
    with pytest.raises(GreenlightError, match=says.replace(".", r"\.").replace("(", r"\(")):
        instances_of(lab, tenants=change(list(lab.tenants.values())))


def test_the_shared_instance_needs_a_known_tenant_to_count_against(lab):
    with pytest.raises(GreenlightError, match=r"^greenlight_shared_tenant: rooms-eu.lab serves the shared"):
        instances_of(lab, shared_tenant="")
    with pytest.raises(GreenlightError, match=r"^greenlight_shared_tenant: 'nobody' is not a tenant"):
        instances_of(lab, shared_tenant="nobody")
    with pytest.raises(GreenlightError, match=r"^greenlight_shared_host: 'elsewhere' is not a host"):
        instances_of(lab, explicit_shared_host="elsewhere")
    with pytest.raises(GreenlightError, match="set greenlight_shared_host"):
        shared_host(lab.sso.model_copy(update={"shared_greenlight": "https://rooms.example"}), {"a", "b"})


def test_names_too_long_for_postgresql_are_shortened_distinctly(lab):
    long_a, long_b = "a" * 62 + "x", "a" * 62 + "y"
    tenants = [Tenant(name=n, plan="small", region="eu", greenlight="rooms-eu.lab", sso_client=n,
                      origin_server_names=(f"{n[-1]}.rooms-eu.lab",)) for n in (long_a, long_b)]
    names = {i.name: i.db_name for i in instances_of(lab, tenants=tenants, shared_tenant=long_a)}
    assert all(len(db) <= 63 for db in names.values())
    assert names[long_a] != names[long_b]


def test_allocation_keeps_what_an_instance_had_and_gives_newcomers_the_lowest_free_numbers():
    first = allocate(None, ["b", "a", "shared"], 5050, 100, 64)
    assert first == {"a": {"port": 5050, "redis_db": 1}, "b": {"port": 5051, "redis_db": 2},
                     "shared": {"port": 5052, "redis_db": 3}}
    # a leaves: the others keep theirs; c then takes what a gave back
    without_a = allocate(first, ["b", "shared"], 5050, 100, 64)
    assert without_a == {name: first[name] for name in ("b", "shared")}
    assert allocate(without_a, ["b", "c", "shared"], 5050, 100, 64)["c"] == {"port": 5050, "redis_db": 1}
    assert allocate(first, ["a", "b", "shared"], 5050, 100, 64) == first  # a rerun changes nothing


def test_allocation_repairs_numbers_that_are_out_of_range_or_taken_twice():
    stored = {"a": {"port": 9999, "redis_db": 1}, "b": {"port": 5050, "redis_db": 2},
              "c": {"port": 5050, "redis_db": 3}, "d": {"port": 5051, "redis_db": 64}, "e": "junk"}
    numbers = allocate(stored, ["a", "b", "c", "d", "e"], 5050, 100, 64)
    assert numbers["b"] == {"port": 5050, "redis_db": 2}
    assert len({n["port"] for n in numbers.values()}) == 5
    assert len({n["redis_db"] for n in numbers.values()}) == 5
    assert all(5050 <= n["port"] < 5150 and 1 <= n["redis_db"] < 64 for n in numbers.values())


def test_allocation_refuses_more_instances_than_numbers():
    with pytest.raises(GreenlightError, match="3 instances on one host, but only 2 ports"):
        allocate(None, ["a", "b", "c"], 5050, 2, 64)
    with pytest.raises(GreenlightError, match="and 2 Redis databases"):
        allocate(None, ["a", "b", "c"], 5050, 100, 3)


def _filter(name: str) -> Any:
    filter_loader.add_directory(str(PLUGINS))
    found = filter_loader.get(name)
    assert found is not None, f"Ansible's filter loader does not find {name}"
    return found.j2_function


def test_the_filter_gives_the_role_the_instances_and_names_a_bad_key():
    instances = _filter("meetfleet_greenlight_instances")
    tenants = {"bakery": {"plan": "small", "region": "eu", "greenlight": "rooms.lab", "sso_client": "bakery",
                          "origin_server_names": ["bakery.rooms.lab"]}}
    sso = {"realm": "coop", "display_name": "Coop", "public_url": "https://sso.lab", "verify_email": False}
    groups = {"greenlight": ["rooms.lab"], "all": ["rooms.lab"]}
    assert [i["name"] for i in instances(tenants, sso, groups, "rooms.lab")] == ["bakery"]
    assert instances(tenants, sso, groups, "other.lab") == []
    with pytest.raises(AnsibleFilterError, match=r"fleet_tenants\.bakery\.greenlight: 'nowhere.lab' is not a host"):
        instances({"bakery": {**tenants["bakery"], "greenlight": "nowhere.lab"}}, sso, groups, "rooms.lab")
    with pytest.raises(AnsibleFilterError, match=r"fleet_tenants\.bakery\.plan"):
        instances({"bakery": {**tenants["bakery"], "plan": 5}}, sso, groups, "rooms.lab")
    allocate_filter = _filter("meetfleet_greenlight_allocate")
    assert allocate_filter({}, ["bakery"], "5050", "100", "64") == {"bakery": {"port": 5050, "redis_db": 1}}
    with pytest.raises(AnsibleFilterError, match="meetfleet_greenlight_allocate: greenlight: 2 instances"):
        allocate_filter({}, ["a", "b"], 5050, 1, 64)


def _tenant(name: str, greenlight: str | None) -> Tenant:
    return Tenant(name=name, plan="small", region="eu", greenlight=greenlight)


def test_a_dedicated_greenlight_goes_to_its_region_host_with_the_fewest_then_by_name():
    hosts = {"rooms-b.eu": "eu", "rooms-a.eu": "eu", "rooms.ca": "ca"}
    assert dedicated_host("eu", hosts, []) == "rooms-a.eu"  # a tie: by name
    busy_a = [_tenant("one", "rooms-a.eu"), _tenant("two", "rooms-a.eu"), _tenant("three", "rooms-b.eu")]
    assert dedicated_host("eu", hosts, busy_a) == "rooms-b.eu"
    # another region's host is never chosen, however busy this region's are
    assert dedicated_host("ca", hosts, [*busy_a, _tenant("four", "rooms.ca")]) == "rooms.ca"


def test_a_region_without_a_greenlight_host_is_refused_naming_the_hosts_there_are():
    with pytest.raises(GreenlightError, match=r"region 'us' has no host .*rooms-a\.eu \(eu\), rooms\.ca \(ca\)"):
        dedicated_host("us", {"rooms.ca": "ca", "rooms-a.eu": "eu"}, [])
    with pytest.raises(GreenlightError, match=r"there are: none"):
        dedicated_host("eu", {}, [])
