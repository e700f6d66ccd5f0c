"""`meetfleet tenant add|move`: place a tenant and record it in the inventory."""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from pydantic import TypeAdapter, ValidationError

from meetfleet.cli.options import Observe, capacity_source_options, inventory_option
from meetfleet.cli.output import (
    bad_input,
    emphasis,
    fail,
    handle_busy_inventory,
    handle_inventory_errors,
    json_option,
    print_json,
    say,
)
from meetfleet.cli.placement import check_placement_input, decide_or_exit, decision_json
from meetfleet.cli.placement import explain as explain_placement
from meetfleet.fleet import Fleet, Tenant
from meetfleet.fleet.model import Gateway, Name
from meetfleet.fleet.writer import InventoryEdit, edit_inventory
from meetfleet.placement import PlacementSettings
from meetfleet.placement.move import check_forced_move, check_move, state_refusal

_NAME = TypeAdapter(Name)


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
@handle_busy_inventory
def add(name: str, plan: str, region: str, greenlight: str | None, sso_client: str | None, timezone: str | None,
        origin_server_names: tuple[str, ...], explain: bool, inventory_dir: Path,
        observe: Observe, settings: PlacementSettings, as_json: bool) -> None:
    """Place tenant NAME (the rule: docs/placement.md) and record it in the inventory.

    Exit 0 once recorded, 1 when no server can take it or another command holds the
    inventory (nothing written), 2 on bad input.
    """
    check_name(name)
    # One session: the lock held and the inventory read once, from reading through deciding
    # to writing, so two concurrent adds neither lose a tenant nor count on the same room.
    with edit_inventory(inventory_dir, f"add tenant {name}") as edit:
        fleet = edit.fleet
        if name in fleet.tenants:
            bad_input(f"tenant {name!r} already exists (on {fleet.tenants[name].bbb_server or 'no server'}); "
                      "use `meetfleet tenant move` to move it", kind="tenant_exists")
        check_placement_input(fleet, plan, region, timezone)
        fields: dict = {"plan": plan, "region": region}
        optional = {"greenlight": greenlight, "sso_client": sso_client, "timezone": timezone,
                    "origin_server_names": list(origin_server_names) or None}
        fields.update({key: value for key, value in optional.items() if value is not None})
        # The whole record, still unplaced, must validate before any capacity source is asked:
        # a bad --greenlight is bad input, not something to find after placing.
        edit.check_tenant(name, fields)
        # Its gateway secret goes into the vault now, before any capacity source is asked:
        # a vault that cannot be written is found without placing anything.
        gateway = gateway_secret(edit, name) if fleet.gateway else None
        decision, observations = decide_or_exit(fleet, plan, region, observe, settings, as_json=as_json,
                                                explain_it=explain, what=f"tenant {name} ({plan})",
                                                json_on_success=False, timezone=timezone)
        fields = {"plan": plan, "region": region, "bbb_server": decision.chosen,
                  **{key: value for key, value in fields.items() if key not in ("plan", "region")}}
        edit.set_tenant(name, fields, create=True)
    if as_json:
        print_json({"tenant": name, "recorded": True, **fields, "gateway": gateway,
                    "placement": decision_json(decision, observations)})
        return
    say(emphasis("recorded tenant ", (name, "bold"), f" on {decision.chosen} in {inventory_dir}"))
    if gateway:
        # What the member's Greenlight needs; the secret itself never on a terminal.
        say(f"its Greenlight: BIGBLUEBUTTON_ENDPOINT={gateway['endpoint']}\n"
            f"  BIGBLUEBUTTON_SECRET: the vault variable {gateway['secret_variable']} in {gateway['secret_file']} "
            f"(ansible-vault view, or the gateway and Greenlight roles render it)")


def gateway_secret(edit: InventoryEdit, name: str) -> dict[str, str]:
    """Stage the tenant's new gateway secret into the vault; what its front end is told."""
    assert edit.fleet.gateway is not None
    variable = Gateway.secret_variable(name)
    path = edit.add_secret(variable, secrets.token_hex(32))
    return {"endpoint": edit.fleet.gateway.endpoint(name), "secret_variable": variable, "secret_file": str(path)}


@tenant.command()
@click.argument("name")
@click.option("--to", "target", required=True, metavar="SERVER", help="The BBB server to move it to.")
@click.option("--force", is_flag=True, help="Skip the capacity check (never the server's state, nor the "
                                           "inventory's validation).")
@click.option("--explain", is_flag=True, help="Show every server with its numbers for this tenant.")
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
@handle_busy_inventory
def move(name: str, target: str, force: bool, explain: bool, inventory_dir: Path,
         observe: Observe, settings: PlacementSettings, as_json: bool) -> None:
    """Move tenant NAME to SERVER, after checking SERVER can take its expected peak.

    Exit 0 once recorded, 1 when SERVER cannot take it or another command holds the
    inventory (nothing written), 2 on bad input.
    """
    with edit_inventory(inventory_dir, f"move tenant {name}") as edit:
        fleet = edit.fleet
        if name not in fleet.tenants:
            bad_input(f"no tenant {name!r} in {inventory_dir} (it has: {', '.join(sorted(fleet.tenants)) or 'none'})",
                      kind="unknown_tenant")
        moving = fleet.tenants[name]
        host = fleet.bbb_servers.get(target)
        if host is None:
            bad_input(f"--to: {target!r} is not a BBB server of {inventory_dir} "
                      f"(it has: {', '.join(sorted(fleet.bbb_servers))})", kind="unknown_server")
        if host.region != moving.region:
            bad_input(f"--to: {target} is in region {host.region!r}, tenant {name} in {moving.region!r}",
                      kind="other_region")
        previous = moving.bbb_server
        if previous == target:
            result = {"tenant": name, "bbb_server": target, "previous": previous, "changed": False}
            print_json(result) if as_json else say(f"{name} is already on {target}; nothing to do")
            return
        if force:
            refuse_forced_move(fleet, name, target, observe)
        else:
            refuse_move(fleet, moving, target, observe, settings, explain=explain and not as_json)
        edit.set_tenant(name, {"bbb_server": target}, create=False)
    if as_json:
        print_json({"tenant": name, "bbb_server": target, "previous": previous, "changed": True})
    else:
        say(emphasis("moved tenant ", (name, "bold"), f": {previous or '(unplaced)'} -> {target}"))


def refuse_move(fleet: Fleet, moving: Tenant, target: str, observe: Observe, settings: PlacementSettings, *,
                explain: bool) -> None:
    """Exit 1 naming why, when SERVER cannot take the moving tenant's expected peak (placement/move.py)."""
    observations = observe(fleet)
    verdict = check_move(fleet, observations, moving, target, settings)
    if explain and verdict.decision is not None:
        explain_placement(verdict.decision, observations, f"Moving {moving.name}")
    if not verdict.ok:
        assert verdict.expected is not None
        best = f"; the best server for it now is {verdict.best}" if verdict.best else ""
        fail(f"{target} cannot take tenant {moving.name} (expected peak {verdict.expected.load:.0f}, "
             f"{verdict.expected.basis}): {'; '.join(verdict.reasons)}{best}. Nothing was changed "
             "(--force skips this check).", kind="target_cannot_take", reasons=list(verdict.reasons),
             best=verdict.best)


def check_name(name: str) -> None:
    """A tenant name the inventory would refuse is bad input, found before anything is read or asked."""
    try:
        _NAME.validate_python(name)
    except ValidationError:
        bad_input(f"{name!r} is not a valid tenant name: lowercase letters, digits, dots and hyphens, starting "
                  "and ending with a letter or digit", kind="bad_tenant_name")


def refuse_forced_move(fleet: Fleet, name: str, target: str, observe: Observe) -> None:
    """--force skips the capacity check, never the server's state nor whether it is up."""
    refused = state_refusal(fleet, target)
    if refused:
        fail(f"{refused}. Nothing was changed.", kind="target_refused",
             state=fleet.bbb_servers[target].bbb.state.value)
    observations = observe.if_configured(fleet)
    if observations is None:
        say(f"note: no capacity source, so whether {target} is up was not checked", err=True)
        return
    verdict = check_forced_move(fleet, observations, target)
    if not verdict.ok:
        fail(f"{verdict.reasons[0]}: it cannot take tenant {name}, even with --force. Nothing was changed.",
             kind="target_refused", state=fleet.bbb_servers[target].bbb.state.value, up=False)
