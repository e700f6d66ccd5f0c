"""`meetfleet server create|delete`, `meetfleet cloud status`, `meetfleet ci-vm up|down|reap`:
the fleet's Hetzner Cloud VMs (docs/cloud.md). Planning is meetfleet.cloud.plan's, the
ports base opens meetfleet.cloud.ports', the calls meetfleet.cloud.hetzner's; every write
of the inventory is an edit session (fleet/writer.py). The token: HCLOUD_TOKEN only."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import TypeAdapter, ValidationError
from ruamel.yaml.comments import CommentedMap

from meetfleet.cli.options import inventory_option
from meetfleet.cli.output import EXIT_FAILURE, bad_input, emphasis, fail, json_option, print_json, say, table
from meetfleet.cloud import hetzner
from meetfleet.cloud.plan import (
    CI_KIND,
    CloudServer,
    VmPlan,
    admin_keys,
    ci_labels,
    drift,
    expires_at,
    fleet_labels,
    fleet_name,
    is_ci_vm,
    is_expired,
    is_ours,
    new_host_vars,
    parse_ttl,
    region_source,
    vm_plan,
)
from meetfleet.cloud.ports import PortsError, kind_ports
from meetfleet.fleet import load_inventory
from meetfleet.fleet.errors import InventoryError
from meetfleet.fleet.loader import INVENTORY_FILES, Inventory, open_inventory
from meetfleet.fleet.model import MAX_CPUS, ROLE_GROUPS, Fleet, HcloudSource, HostName, ServerState
from meetfleet.fleet.writer import InventoryEdit, edit_inventory
from meetfleet.locate import project_dir

_HOST_NAME = TypeAdapter(HostName)


# --- shared -------------------------------------------------------------------------------


def check_host_name(name: str) -> None:
    try:
        _HOST_NAME.validate_python(name)
    except ValidationError:
        bad_input(f"NAME: {name[:80]!r} is not a DNS name: lowercase letters, digits, dots and hyphens, starting "
                  "and ending with a letter or digit, at most 253 characters", kind="bad_server_name")


def this_fleet(inventory_dir: Path) -> str:
    try:
        return fleet_name(inventory_dir)
    except ValueError as exc:
        bad_input(f"--inventory: {exc}", kind="bad_fleet_name")


def client() -> Any:
    """The hcloud client; a missing token is bad input (exit 2), before anything is changed."""
    try:
        return hetzner.connect()
    except hetzner.MissingToken as exc:
        bad_input(str(exc), kind="missing_token")
    except hetzner.CloudError as exc:
        fail(str(exc), kind="cloud_failed")


def cloud_call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A cloud call; its failure is exit 1 naming the call (never the token)."""
    try:
        return func(*args, **kwargs)
    except hetzner.CloudError as exc:
        fail(str(exc), kind="cloud_failed")


def _hosts_file(edit: InventoryEdit) -> Path:
    return next((edit.directory / n for n in INVENTORY_FILES if edit.inventory.files.exists(edit.directory / n)),
                edit.directory / "hosts.yml")


def stage_new_host(edit: InventoryEdit, name: str, kind: str, values: dict[str, Any]) -> None:
    """Stage NAME under its kind's group of hosts.yml and its host_vars file."""

    def add(data: CommentedMap) -> None:
        if not isinstance(data.get("all"), CommentedMap):
            data["all"] = CommentedMap()
        if not isinstance(data["all"].get("children"), CommentedMap):
            data["all"]["children"] = CommentedMap()
        children = data["all"]["children"]
        if not isinstance(children.get(kind), CommentedMap):
            children[kind] = CommentedMap()
        if not isinstance(children[kind].get("hosts"), CommentedMap):
            children[kind]["hosts"] = CommentedMap()
        children[kind]["hosts"][name] = None

    edit.edit(_hosts_file(edit), add)
    set_host_vars(edit, name, values)


def set_host_vars(edit: InventoryEdit, name: str, values: dict[str, Any]) -> None:
    def update(data: CommentedMap) -> None:
        for key, value in values.items():
            data[key] = value

    edit.edit(edit.host_vars_file(name, "fleet_region"), update)


def stage_removal(edit: InventoryEdit, name: str) -> list[Path]:
    """Stage NAME out of every group of hosts.yml and its host_vars emptied; the files to
    remove once written (an empty host_vars file of no host is valid meanwhile)."""

    def walk(group: Any) -> None:
        if not isinstance(group, CommentedMap):
            return
        hosts = group.get("hosts")
        if isinstance(hosts, CommentedMap) and name in hosts:
            del hosts[name]
        for child in (group.get("children") or {}).values():
            walk(child)

    edit.edit(_hosts_file(edit), lambda data: walk(data.get("all")))
    files = edit.inventory.vars_files("host_vars", name)
    for path in files:
        edit.edit(path, lambda data: data.clear())
    return files


def _values_for(inventory: Inventory, host: str) -> Callable[[list[str]], dict[str, Any]]:
    """The inventory's values of some keys for `host` (a key whose template the inventory's
    reader does not render is left to the role's default)."""

    def get(keys: list[str]) -> dict[str, Any]:
        try:
            return inventory.host_variables(keys).get(host, {})
        except InventoryError:
            out: dict[str, Any] = {}
            for key in keys:
                try:
                    out.update(inventory.host_variables([key]).get(host, {}))
                except InventoryError:
                    continue
            return out

    return get


def monitoring_addresses(fleet: Fleet) -> list[str]:
    out = []
    for host in fleet.hosts.values():
        if "monitoring" in host.roles and host.address:
            try:
                out.append(str(ipaddress.ip_address(host.address)))
            except ValueError:
                continue
    return sorted(out)


def _admins(inventory: Inventory, host: str | None = None) -> Any:
    values = _values_for(inventory, host)(["base_admin_users"]) if host else {}
    if not values:
        for per_host in inventory.host_variables(["base_admin_users"]).values():
            if per_host.get("base_admin_users"):
                return per_host["base_admin_users"]
    return values.get("base_admin_users")


def _keys(users: Any) -> list[Any]:
    try:
        return admin_keys(users)
    except ValueError as exc:
        bad_input(f"base_admin_users: {exc}", kind="bad_admin_key")


# --- server create / delete ---------------------------------------------------------------


@click.command("create")
@click.argument("name")
@click.option("--region", required=True, help="The host's region (fleet_regions).")
@click.option("--kind", required=True, type=click.Choice(ROLE_GROUPS), help="What it runs: its group in hosts.yml.")
@click.option("--address", metavar="A", help="Its address (ansible_host): static hosts only, required for them.")
@click.option("--cpus", type=click.IntRange(1, MAX_CPUS),
              help="A BBB server's CPU count (fleet_bbb_cpus); default for a VM: its server type's cores.")
@inventory_option
@json_option
def server_create(name: str, region: str, kind: str, address: str | None, cpus: int | None, inventory_dir: Path,
                  as_json: bool) -> None:
    """Create host NAME's VM in REGION's Hetzner location (fleet_regions.REGION.hcloud) and
    record it, or record a static host (--address) in a region without one.

    Idempotent: a second call finds the VM by name and labels and changes nothing. A new BBB
    server is recorded cordoned (`meetfleet server uncordon` once it is configured). Exit 0
    done, 1 the cloud failed (nothing recorded), 2 bad input (nothing changed).
    """
    check_host_name(name)
    fleet_id = this_fleet(inventory_dir)
    with edit_inventory(inventory_dir, f"create server {name}") as edit:
        fleet = edit.fleet
        if region not in fleet.regions:
            bad_input(f"--region: unknown region {region!r} (the inventory has: {', '.join(sorted(fleet.regions))})",
                      kind="unknown_region")
        existing = fleet.hosts.get(name)
        if existing is not None and (existing.region != region or kind not in existing.roles):
            bad_input(f"NAME: {name} is already in the inventory (region {existing.region}, "
                      f"groups {', '.join(sorted(existing.roles)) or 'none'})", kind="host_exists")
        source = region_source(fleet.regions[region], kind)
        if source is None:
            result = _record_static(edit, name, region, kind, address, cpus)
        else:
            if address is not None:
                bad_input(f"--address: region {region}'s hosts are Hetzner VMs (fleet_regions.{region}.hcloud); "
                          "a VM's address is the one Hetzner gives it", kind="address_not_allowed")
            if existing is not None and not isinstance(existing.source, HcloudSource):
                bad_input(f"NAME: {name} is in the inventory as a static host", kind="host_exists")
            result = _create_vm(edit, fleet_id, name, region, kind, cpus, source, existing is not None)
    if as_json:
        print_json(result)
        return
    if not result["changed"]:
        say(f"{name} already exists as recorded; nothing to do")
        return
    what = "created the VM and recorded" if result.get("vm_created") else "recorded"
    say(emphasis(f"{what} ", (name, "bold"), f" ({kind}, region {region}) in {inventory_dir}"))
    for note in result.get("notes", []):
        say(f"note: {note}", err=True)
    if kind == "bbb" and result.get("recorded"):
        say(f"{name} is cordoned: configure it (ansible-playbook playbooks/bbb.yml --limit {name}), "
            f"then meetfleet server uncordon {name}")


def _record_static(edit: InventoryEdit, name: str, region: str, kind: str, address: str | None,
                   cpus: int | None) -> dict[str, Any]:
    existing = edit.fleet.hosts.get(name)
    base = {"server": name, "region": region, "kind": kind, "provider": "static", "vm_created": False}
    if existing is not None:
        if not isinstance(existing.source, HcloudSource) and address in (None, existing.address):
            return {**base, "address": existing.address, "recorded": False, "changed": False}
        bad_input(f"NAME: {name} is already in the inventory (address {existing.address})", kind="host_exists")
    if address is None:
        bad_input(f"--address: region {region} has no Hetzner location (no fleet_regions.{region}.hcloud): its "
                  "hosts are static, handed over by a partner; give the host's address", kind="address_required")
    if kind == "bbb" and cpus is None:
        bad_input("--cpus: a static BBB server's CPU count is needed for its capacity (fleet_bbb_cpus)",
                  kind="cpus_required")
    values = new_host_vars(region, None, kind, address)
    if kind == "bbb":
        values["fleet_bbb_cpus"] = cpus
    stage_new_host(edit, name, kind, values)
    return {**base, "address": address, "host_vars": values, "recorded": True, "changed": True}


def _create_vm(edit: InventoryEdit, fleet_id: str, name: str, region: str, kind: str, cpus: int | None,
               source: HcloudSource, exists: bool) -> dict[str, Any]:
    api = client()  # the token, before any other work
    project = project_dir()
    if project is None:
        fail("the roles are needed to know the ports base opens, and this meetfleet was not installed from its "
             "source tree", kind="no_roles")
    values: dict[str, Any] = {}
    if not exists:
        values = new_host_vars(region, source, kind, None)
        if kind == "bbb":
            values["fleet_bbb_cpus"] = cpus or 1  # checked now; the VM's cores once it exists
        stage_new_host(edit, name, kind, values)
    fleet = edit.validate()  # the record with the new host, before any call that costs money
    inventory = open_inventory(edit.directory, edit.inventory.files.with_text(edit.staged))
    host = fleet.hosts[name]
    try:
        ports = kind_ports(project, kind, _values_for(inventory, name), monitoring_addresses(fleet))
    except PortsError as exc:
        fail(f"the ports base opens on a {kind} host: {exc}", kind="firewall_declarations")
    plan = vm_plan(host, fleet_id, kind, _keys(_admins(inventory, name)), ports.rules)

    same_name = cloud_call(hetzner.servers, api, name=name)
    created_keys: list[str] = []
    if same_name and not is_ours(same_name[0].labels, fleet_id):
        fail(f"a VM named {name} exists in the project without this fleet's labels (managed-by=meetfleet, "
             f"fleet={fleet_id}): not touching it. Nothing was changed.", kind="name_taken")
    firewall, firewall_done = cloud_call(hetzner.ensure_firewall, api, plan)
    if same_name:
        server, vm_created = same_name[0], False
        if cloud_call(hetzner.apply_firewall, api, firewall, server):
            firewall_done = f"{firewall_done}, applied"
    else:
        key_refs, created_keys = cloud_call(hetzner.ensure_ssh_keys, api, list(plan.ssh_keys), fleet_id)
        server, vm_created = cloud_call(hetzner.create_server, api, plan, key_refs, firewall), True

    updates: dict[str, Any] = {}
    if server.ipv4 and host.address != server.ipv4:
        updates["ansible_host"] = server.ipv4
    if not exists and kind == "bbb" and cpus is None and server.cores:
        updates["fleet_bbb_cpus"] = server.cores
    if updates:
        set_host_vars(edit, name, updates)
    recorded = not exists or bool(updates)
    notes = list(ports.notes)
    if vm_created and server.server_type != plan.server_type:
        notes.append(f"the VM's server type is {server.server_type}, not {plan.server_type}")
    return {"server": name, "region": region, "kind": kind, "provider": "hcloud", "vm": server.as_json(),
            "plan": plan.as_json(), "vm_created": vm_created, "firewall": firewall_done,
            "ssh_keys_created": created_keys, "recorded": recorded, "host_vars": {**values, **updates},
            "changed": vm_created or firewall_done != "unchanged" or recorded, "notes": notes}


@click.command("delete")
@click.argument("name")
@inventory_option
@json_option
def server_delete(name: str, inventory_dir: Path, as_json: bool) -> None:
    """Delete host NAME: refused while tenants are placed on it; a BBB server is retired in the
    inventory first (fleet_bbb_state: retired), then its VM and firewall are deleted, then the
    host leaves the inventory. Exit 0 done, 1 refused or the cloud failed, 2 bad input."""
    check_host_name(name)
    fleet_id = this_fleet(inventory_dir)
    with edit_inventory(inventory_dir, f"retire server {name}") as edit:
        fleet = edit.fleet
        host = fleet.hosts.get(name)
        if host is None:
            bad_input(f"NAME: no host {name!r} in {inventory_dir}", kind="unknown_server")
        placed = sorted(t.name for t in fleet.tenants_on(name))
        if placed:
            fail(f"{name} still has tenants placed on it ({', '.join(placed)}): move them first "
                 f"(meetfleet tenant move TENANT --to SERVER). Nothing was changed.", kind="server_has_tenants",
                 tenants=placed)
        hcloud = isinstance(host.source, HcloudSource)
        api = client() if hcloud else None
        before = dict(edit.staged)
        stage_removal(edit, name)
        edit.validate()  # the inventory without it must hold (e.g. no tenant's Greenlight) before anything goes
        edit.staged = before
        retired = host.bbb is not None and host.bbb.state != ServerState.RETIRED
        if retired:
            edit.set_host_var(name, "fleet_bbb_state", ServerState.RETIRED.value)
    vm_deleted = firewall_deleted = False
    if hcloud:
        found = cloud_call(hetzner.servers, api, name=name)
        if found and not is_ours(found[0].labels, fleet_id):
            fail(f"the VM named {name} is not labelled as this fleet's (managed-by=meetfleet, fleet={fleet_id}): "
                 "not deleting it; the host stays in the inventory, retired", kind="not_ours")
        if found:
            cloud_call(hetzner.delete_server, api, found[0])
            vm_deleted = True
        firewall_deleted = cloud_call(hetzner.delete_firewall, api, name, fleet_labels(fleet_id))
    with edit_inventory(inventory_dir, f"remove server {name}") as edit:
        if name in edit.fleet.hosts:
            files = stage_removal(edit, name)
            edit.commit()
            for path in files:
                path.unlink(missing_ok=True)
                if path.parent.name == name and not any(path.parent.iterdir()):
                    path.parent.rmdir()
    result = {"server": name, "retired_first": retired, "vm_deleted": vm_deleted,
              "firewall_deleted": firewall_deleted, "removed": True}
    if as_json:
        print_json(result)
        return
    done = [w for w, d in (("retired", retired), ("VM deleted", vm_deleted), ("firewall deleted", firewall_deleted))
            if d]
    say(emphasis("deleted ", (name, "bold"), f" ({', '.join([*done, 'removed from the inventory'])})"))


# --- cloud status ---------------------------------------------------------------------------


@click.group()
def cloud() -> None:
    """The fleet's Hetzner Cloud VMs against the inventory."""


@cloud.command("status")
@inventory_option
@json_option
def cloud_status(inventory_dir: Path, as_json: bool) -> None:
    """Drift between the inventory and the cloud: VMs labelled as this fleet's that the
    inventory does not know, hcloud hosts the cloud does not have, type or location
    mismatches. Exit 0 in sync, 1 drift (or the cloud failed), 2 bad input."""
    fleet_id = this_fleet(inventory_dir)
    fleet = load_inventory(inventory_dir)
    api = client()
    labelled = cloud_call(hetzner.managed_servers, api, fleet_id)
    ci = [s for s in labelled if is_ci_vm(s.labels, fleet_id)]
    vms = [s for s in labelled if not is_ci_vm(s.labels, fleet_id)]
    names = {s.name for s in vms}
    by_name: dict[str, CloudServer | None] = {}
    for host in fleet.hosts.values():
        if isinstance(host.source, HcloudSource) and host.name not in names:
            found = cloud_call(hetzner.servers, api, name=host.name)
            by_name[host.name] = found[0] if found else None
    found_drift = drift(fleet, fleet_id, vms, by_name)
    if as_json:
        print_json({"fleet": fleet_id, "in_sync": not found_drift, "drift": [d.as_json() for d in found_drift],
                    "servers": [s.as_json() for s in vms], "ci_vms": [s.as_json() for s in ci]})
    elif found_drift:
        table(f"Drift between {inventory_dir} and the cloud (fleet={fleet_id})", ["host", "drift", "details"],
              [(d.host, d.kind, d.message) for d in found_drift])
    else:
        say(f"in sync: {len(vms)} VM(s) of fleet {fleet_id}, as the inventory records them"
            + (f"; {len(ci)} CI VM(s)" if ci else ""))
    if found_drift:
        raise SystemExit(EXIT_FAILURE)


# --- ci-vm ------------------------------------------------------------------------------------


@click.group("ci-vm")
def ci_vm() -> None:
    """Throwaway VMs for CI, labelled with their expiry; `reap` deletes the expired ones."""


def _ci_region(fleet: Fleet, region: str | None) -> tuple[str, HcloudSource]:
    if region is not None:
        if region not in fleet.regions:
            bad_input(f"--region: unknown region {region!r} (the inventory has: {', '.join(sorted(fleet.regions))})",
                      kind="unknown_region")
        source = region_source(fleet.regions[region], CI_KIND)
        if source is None:
            bad_input(f"--region: region {region} has no Hetzner location (fleet_regions.{region}.hcloud)",
                      kind="no_hetzner_location")
        return region, source
    for name in sorted(fleet.regions):
        source = region_source(fleet.regions[name], CI_KIND)
        if source is not None:
            return name, source
    bad_input("--region: no region of the inventory has a Hetzner location (fleet_regions.NAME.hcloud)",
              kind="no_hetzner_location")


@ci_vm.command("up")
@click.argument("name")
@click.option("--ttl", default="2h", show_default=True, help="How long it may live (30m, 2h, 1d; at most 7d).")
@click.option("--region", help="Its region (default: the first with a Hetzner location).")
@inventory_option
@json_option
def ci_vm_up(name: str, ttl: str, region: str | None, inventory_dir: Path, as_json: bool) -> None:
    """Create throwaway VM NAME (the region's server type and image, the admins' SSH keys),
    labelled kind=ci-vm and with its expiry. Not recorded in the inventory."""
    check_host_name(name)
    try:
        seconds = parse_ttl(ttl)
    except ValueError as exc:
        bad_input(f"--ttl: {exc}", kind="bad_ttl")
    fleet_id = this_fleet(inventory_dir)
    inventory = open_inventory(inventory_dir)
    fleet = inventory.fleet
    if name in fleet.hosts:
        bad_input(f"NAME: {name} is a host of the inventory, not a throwaway VM", kind="host_exists")
    region_name, source = _ci_region(fleet, region)
    api = client()
    found = cloud_call(hetzner.servers, api, name=name)
    if found:
        if not is_ci_vm(found[0].labels, fleet_id):
            fail(f"a VM named {name} exists and is not a CI VM of fleet {fleet_id}: not touching it",
                 kind="name_taken")
        result = {"vm": found[0].as_json(), "created": False, "expires_at": expires_at(found[0].labels)}
    else:
        until = int(time.time()) + seconds
        plan = VmPlan(name, source.server_type, source.image, source.location,
                      ci_labels(fleet_id, region_name, until), tuple(_keys(_admins(inventory))))
        key_refs, _ = cloud_call(hetzner.ensure_ssh_keys, api, list(plan.ssh_keys), fleet_id)
        server = cloud_call(hetzner.create_server, api, plan, key_refs, None)
        result = {"vm": server.as_json(), "created": True, "expires_at": until}
    if as_json:
        print_json(result)
        return
    state = "created" if result["created"] else "already up"
    expiry = result["expires_at"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expiry)) if expiry else "unknown"
    say(f"{name}: {state}, address {result['vm']['ipv4']}, expires {when}")


@ci_vm.command("down")
@click.argument("name")
@inventory_option
@json_option
def ci_vm_down(name: str, inventory_dir: Path, as_json: bool) -> None:
    """Delete CI VM NAME (only a CI VM of this fleet)."""
    check_host_name(name)
    fleet_id = this_fleet(inventory_dir)
    api = client()
    found = cloud_call(hetzner.servers, api, name=name)
    if found and not is_ci_vm(found[0].labels, fleet_id):
        fail(f"{name} is not a CI VM of fleet {fleet_id}: not deleting it", kind="not_a_ci_vm")
    if found:
        cloud_call(hetzner.delete_server, api, found[0])
    if as_json:
        print_json({"vm": name, "deleted": bool(found)})
    else:
        say(f"{name}: deleted" if found else f"{name}: no such VM; nothing to do")


@ci_vm.command("reap")
@inventory_option
@json_option
def ci_vm_reap(inventory_dir: Path, as_json: bool) -> None:
    """Delete every CI VM of this fleet whose expiry has passed (or that has none), and nothing else."""
    fleet_id = this_fleet(inventory_dir)
    api = client()
    now = time.time()
    vms = cloud_call(hetzner.servers, api, labels={**fleet_labels(fleet_id), "kind": CI_KIND})
    expired = [s for s in vms if is_ci_vm(s.labels, fleet_id) and is_expired(s.labels, now)]
    for server in expired:
        cloud_call(hetzner.delete_server, api, server)
    kept = sorted(s.name for s in vms if s not in expired)
    if as_json:
        print_json({"deleted": sorted(s.name for s in expired), "kept": kept})
        return
    say(f"deleted {len(expired)} expired CI VM(s)" + (f": {', '.join(sorted(s.name for s in expired))}"
                                                      if expired else "") + f"; {len(kept)} still running")
