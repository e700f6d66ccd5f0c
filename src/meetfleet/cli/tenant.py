"""`meetfleet tenant add|move`: place a tenant and record it in the inventory."""

from __future__ import annotations

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
from meetfleet.fleet import Fleet, Host, ServerState, Tenant
from meetfleet.fleet.model import Name
from meetfleet.fleet.writer import edit_inventory
from meetfleet.placement import PlacementSettings
from meetfleet.placement.decide import evaluate
from meetfleet.placement.spare import LoadModel

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
        decision, observations = decide_or_exit(fleet, plan, region, observe, settings, as_json=as_json,
                                                explain_it=explain, what=f"tenant {name} ({plan})",
                                                json_on_success=False, timezone=timezone)
        fields = {"plan": plan, "region": region, "bbb_server": decision.chosen,
                  **{key: value for key, value in fields.items() if key not in ("plan", "region")}}
        edit.set_tenant(name, fields, create=True)
    if as_json:
        print_json({"tenant": name, "recorded": True, **fields,
                    "placement": decision_json(decision, observations)})
    else:
        say(emphasis("recorded tenant ", (name, "bold"), f" on {decision.chosen} in {inventory_dir}"))


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
            check_state_forced(host, name, observe, fleet)
        else:
            check_move(fleet, moving, target, observe, settings, explain=explain and not as_json)
        edit.set_tenant(name, {"bbb_server": target}, create=False)
    if as_json:
        print_json({"tenant": name, "bbb_server": target, "previous": previous, "changed": True})
    else:
        say(emphasis("moved tenant ", (name, "bold"), f": {previous or '(unplaced)'} -> {target}"))


def check_move(fleet: Fleet, moving: Tenant, target: str, observe: Observe, settings: PlacementSettings, *,
               explain: bool) -> None:
    """SERVER can take the moving tenant's expected peak (placement's rule), else exit 1 naming why."""
    observations = observe(fleet)
    expected = LoadModel(fleet, observations, settings).tenant(moving)
    decision = evaluate(fleet, observations, moving.region, expected, settings, moving=moving)
    if explain:
        explain_placement(decision, observations, f"Moving {moving.name}")
    candidate = next(c for c in decision.candidates if c.server == target)
    if not candidate.eligible:
        best = f"; the best server for it now is {decision.chosen}" if decision.chosen else ""
        fail(f"{target} cannot take tenant {moving.name} (expected peak {expected.load:.0f}, {expected.basis}): "
             f"{'; '.join(candidate.reasons)}{best}. Nothing was changed (--force skips this check).",
             kind="target_cannot_take", reasons=list(candidate.reasons), best=decision.chosen)


def check_name(name: str) -> None:
    """A tenant name the inventory would refuse is bad input, found before anything is read or asked."""
    try:
        _NAME.validate_python(name)
    except ValidationError:
        bad_input(f"{name!r} is not a valid tenant name: lowercase letters, digits, dots and hyphens, starting "
                  "and ending with a letter or digit", kind="bad_tenant_name")


def check_state_forced(host: Host, name: str, observe: Observe, fleet: Fleet) -> None:
    """--force skips the capacity check, never the server's state: a cordoned or draining server
    takes no tenant (retired: the inventory's validation refuses it), nor does a down one."""
    assert host.bbb is not None
    state = host.bbb.state
    if state in (ServerState.CORDONED, ServerState.DRAINING):
        fail(f"{host.name} is {state.value}: it takes no new tenants, even with --force (uncordon it first). "
             f"Nothing was changed.", kind="target_refused", state=state.value)
    observations = observe.if_configured(fleet)
    if observations is None:
        say(f"note: no capacity source, so whether {host.name} is up was not checked", err=True)
        return
    seen = observations.servers.get(host.name)
    if seen is None or not seen.up:
        why = "no observation from the capacity source" if seen is None else "meetfleet_server_up is 0"
        fail(f"{host.name} is down ({why}): it cannot take tenant {name}, even with --force. Nothing was changed.",
             kind="target_refused", state=state.value, up=False)
