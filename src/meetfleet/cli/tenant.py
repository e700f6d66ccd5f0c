"""`meetfleet tenant add|move`: place a tenant and record it in the inventory."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from meetfleet.cli.output import (
    bad_input,
    console,
    fail,
    handle_busy_inventory,
    handle_inventory_errors,
    json_option,
    print_json,
)
from meetfleet.cli.placement import (
    capacity_source_options,
    decide_or_exit,
    decision_json,
    inventory_option,
)
from meetfleet.cli.placement import explain as explain_placement
from meetfleet.fleet import load_inventory
from meetfleet.fleet.lock import inventory_lock
from meetfleet.fleet.writer import set_tenant
from meetfleet.placement import Observations, PlacementSettings
from meetfleet.placement.decide import evaluate
from meetfleet.placement.spare import LoadModel


def holding_inventory_lock(command: Callable) -> Callable:
    """Run the command under its inventory's write lock: reading, deciding and writing as one, so two
    concurrent adds neither lose a tenant nor both count on the same spare capacity."""

    @wraps(command)
    def locked(*args: Any, inventory_dir: Path, **kwargs: Any) -> None:
        with inventory_lock(inventory_dir):
            command(*args, inventory_dir=inventory_dir, **kwargs)

    return handle_busy_inventory(locked)


@click.group()
def tenant() -> None:
    """Add member organisations and move them between BBB servers."""


@tenant.command()
@click.argument("name")
@click.option("--plan", required=True, help="The tenant's plan (fleet_plans).")
@click.option("--region", required=True, help="The tenant's region (fleet_regions).")
@click.option("--greenlight", metavar="HOST", help="Its Greenlight host (greenlight group).")
@click.option("--sso-client", metavar="ID", help="Its OIDC client id in Keycloak.")
@click.option("--timezone", metavar="TZ", help="Its time zone, when not its region's (e.g. America/Montreal).")
@click.option("--origin-server-name", "origin_server_names", multiple=True, metavar="NAME",
              help="bbb-origin-server-name its Greenlight sets on meetings (repeatable).")
@click.option("--explain", is_flag=True, help="Show every server with its numbers.")
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
@holding_inventory_lock
def add(name: str, plan: str, region: str, greenlight: str | None, sso_client: str | None, timezone: str | None,
        origin_server_names: tuple[str, ...], explain: bool, inventory_dir: Path,
        observe: Callable[[], Observations], settings: PlacementSettings, as_json: bool) -> None:
    """Place tenant NAME (the rule: docs/placement.md) and record it in the inventory.

    Exit 0 once recorded, 1 when no server can take it or another command holds the
    inventory (nothing written), 2 on bad input.
    """
    fleet = load_inventory(inventory_dir)
    if name in fleet.tenants:
        bad_input(f"tenant {name!r} already exists (on {fleet.tenants[name].bbb_server or 'no server'}); "
                  "use `meetfleet tenant move` to move it")
    decision, observations = decide_or_exit(fleet, plan, region, observe, settings, as_json=as_json,
                                            explain_it=explain, what=f"tenant {name} ({plan})",
                                            json_on_success=False, timezone=timezone)
    fields: dict = {"plan": plan, "region": region, "bbb_server": decision.chosen}
    optional = {"greenlight": greenlight, "sso_client": sso_client, "timezone": timezone,
                "origin_server_names": list(origin_server_names) or None}
    fields.update({key: value for key, value in optional.items() if value is not None})
    set_tenant(inventory_dir, name, fields, create=True)
    if as_json:
        print_json({"tenant": name, "recorded": True, **fields,
                    "placement": decision_json(decision, observations)})
    else:
        console.print(f"recorded tenant [bold]{name}[/bold] on {decision.chosen} in {inventory_dir}", highlight=False)


@tenant.command()
@click.argument("name")
@click.option("--to", "target", required=True, metavar="SERVER", help="The BBB server to move it to.")
@click.option("--force", is_flag=True, help="Skip the capacity check (never the inventory's validation).")
@click.option("--explain", is_flag=True, help="Show every server with its numbers for this tenant.")
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
@holding_inventory_lock
def move(name: str, target: str, force: bool, explain: bool, inventory_dir: Path,
         observe: Callable[[], Observations], settings: PlacementSettings, as_json: bool) -> None:
    """Move tenant NAME to SERVER, after checking SERVER can take its expected peak.

    Exit 0 once recorded, 1 when SERVER cannot take it or another command holds the
    inventory (nothing written), 2 on bad input.
    """
    fleet = load_inventory(inventory_dir)
    if name not in fleet.tenants:
        bad_input(f"no tenant {name!r} in {inventory_dir} (it has: {', '.join(sorted(fleet.tenants)) or 'none'})")
    moving = fleet.tenants[name]
    host = fleet.bbb_servers.get(target)
    if host is None:
        bad_input(f"--to: {target!r} is not a BBB server of {inventory_dir} "
                  f"(it has: {', '.join(sorted(fleet.bbb_servers))})")
    if host.region != moving.region:
        bad_input(f"--to: {target} is in region {host.region!r}, tenant {name} in {moving.region!r}")
    previous = moving.bbb_server
    if previous == target:
        result = {"tenant": name, "bbb_server": target, "previous": previous, "changed": False}
        print_json(result) if as_json else console.print(f"{name} is already on {target}; nothing to do")
        return
    if not force:
        observations = observe()
        expected = LoadModel(fleet, observations, settings).tenant(moving)
        decision = evaluate(fleet, observations, moving.region, expected, settings, moving=moving)
        if explain and not as_json:
            explain_placement(decision, observations, f"Moving {name}")
        candidate = next(c for c in decision.candidates if c.server == target)
        if not candidate.eligible:
            best = f"; the best server for it now is {decision.chosen}" if decision.chosen else ""
            fail(f"{target} cannot take tenant {name} (expected peak {expected.load:.0f}, {expected.basis}): "
                 f"{'; '.join(candidate.reasons)}{best}. Nothing was changed (--force skips this check).")
    set_tenant(inventory_dir, name, {"bbb_server": target}, create=False)
    if as_json:
        print_json({"tenant": name, "bbb_server": target, "previous": previous, "changed": True})
    else:
        console.print(f"moved tenant [bold]{name}[/bold]: {previous or '(unplaced)'} -> {target}", highlight=False)
