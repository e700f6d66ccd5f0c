"""`meetfleet inventory check|show`: validate and display the fleet inventory."""

from __future__ import annotations

from pathlib import Path

import click

from meetfleet.cli.options import inventory_option
from meetfleet.cli.output import handle_inventory_errors, json_option, print_json, table
from meetfleet.fleet import Fleet, InventoryError, load_inventory
from meetfleet.fleet.loader import check_inventory


@click.group()
def inventory() -> None:
    """Validate and show the fleet inventory."""


@inventory.command()
@inventory_option
@click.option("--strict", is_flag=True,
              help="Warnings are problems too: exit 2 when a secret is written in plain text.")
@handle_inventory_errors
def check(inventory_dir: Path, strict: bool) -> None:
    """Validate the inventory (default: inventories/lab). Exit 2 with every problem found.

    Warns (on stderr) for each secret the roles read that is written in plain text
    instead of a vault reference; --strict makes those warnings problems (exit 2)."""
    fleet, secrets = check_inventory(inventory_dir)
    if strict and secrets.warnings:
        raise InventoryError(secrets.warnings)
    for note in secrets.notes:
        click.echo(f"note: {note}", err=True)
    for warning in secrets.warnings:
        click.echo(f"warning: {warning}", err=True)
    warned = len(secrets.warnings)
    click.echo(
        f"{inventory_dir}: ok ({len(fleet.regions)} regions, {len(fleet.hosts)} hosts, "
        f"{len(fleet.bbb_servers)} BBB servers, {len(fleet.plans)} plans, "
        f"{len(fleet.tenants)} tenants"
        + (f"; {warned} warning{'s' if warned != 1 else ''}, see above" if warned else "") + ")"
    )


@inventory.command()
@inventory_option
@json_option
@handle_inventory_errors
def show(inventory_dir: Path, as_json: bool) -> None:
    """Show regions, hosts, BBB servers, plans and tenants of the inventory."""
    fleet = load_inventory(inventory_dir)
    if as_json:
        print_json(fleet.model_dump(mode="json"))
        return
    show_fleet(fleet)


def show_fleet(fleet: Fleet) -> None:
    table("Regions", ["region", "description", "timezone", "hosts", "BBB servers", "tenants"], [
        (r.name, r.description, r.timezone,
         sum(h.region == r.name for h in fleet.hosts.values()),
         sum(h.region == r.name for h in fleet.bbb_servers.values()),
         sum(t.region == r.name for t in fleet.tenants.values()))
        for r in fleet.regions.values()
    ])
    table("Hosts", ["host", "region", "roles", "source", "address"], [
        (h.name, h.region, ", ".join(sorted(h.roles)),
         h.source.kind + (f" {h.source.location}" if h.source.kind == "hcloud" else ""),
         h.address)
        for h in fleet.hosts.values()
    ])
    table("BBB servers", ["server", "region", "state", "capacity", "tenants", "API"], [
        (h.name, h.region, h.bbb.state.value, h.bbb.capacity,
         len(fleet.tenants_on(h.name)), h.bbb.api_url)
        for h in fleet.bbb_servers.values() if h.bbb
    ])
    table("Plans", ["plan", "max users", "max rooms", "max minutes", "tenants"], [
        (p.name, p.max_concurrent_users, p.max_rooms, p.max_meeting_minutes,
         sum(t.plan == p.name for t in fleet.tenants.values()))
        for p in fleet.plans.values()
    ])
    table("Tenants", ["tenant", "plan", "region", "BBB server", "Greenlight", "SSO client"], [
        (t.name, t.plan, t.region, t.bbb_server or "(unplaced)", t.greenlight, t.sso_client)
        for t in fleet.tenants.values()
    ])
