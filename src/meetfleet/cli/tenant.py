"""`meetfleet tenant add|move|plan|remove|export|import`: one command per step of a member's
life, each an inventory edit session (fleet/writer.py): one lock, one load, validated once,
written atomically; a refusal writes nothing. docs/tenants.md."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
from pydantic import TypeAdapter, ValidationError

from meetfleet.cli.options import Observe, capacity_source_options, inventory_option
from meetfleet.cli.output import (
    as_command_error,
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
from meetfleet.cli.rollout import (
    ApplyOptions,
    ansible_playbook,
    apply_change,
    apply_options,
    ca_file_option,
    check_playbooks,
    connect_to_option,
)
from meetfleet.fleet import Fleet, Tenant, load_inventory
from meetfleet.fleet.model import Gateway, Name, Sso
from meetfleet.fleet.writer import InventoryEdit, edit_inventory
from meetfleet.greenlight import GreenlightError, dedicated_host
from meetfleet.greenlight import secret_variable as greenlight_secret_variable
from meetfleet.membership import ArchiveError, Export, build_archive, collect, export_of, read_archive, write_archive
from meetfleet.membership.archive import NOT_INCLUDED
from meetfleet.placement import Decision, Observations, PlacementSettings
from meetfleet.placement.move import (
    PlanVerdict,
    check_forced_move,
    check_move,
    check_plan_change,
    is_bigger_plan,
    state_refusal,
)
from meetfleet.rollout.plan import readers_of, tenant_rollout
from meetfleet.rollout.smoke import Route

_NAME = TypeAdapter(Name)


@dataclass(frozen=True)
class WithData:
    """--with-data: where the recordings and the database are fetched from, and how."""

    playbooks_dir: Path
    routes: dict[Route, Route]
    ca_file: str | None


def with_data_options(func: Callable) -> Callable:
    """--with-data and how to reach what it fetches, handed on as `with_data: WithData | None`."""
    @functools.wraps(func)
    def wrapped(*args: Any, with_data: bool, data_playbooks: Path, routes: dict[Route, Route], ca_file: str | None,
                **kwargs: Any) -> Any:
        return func(*args, with_data=WithData(data_playbooks, routes, ca_file) if with_data else None, **kwargs)

    for option in reversed([
        click.option("--with-data", is_flag=True,
                     help="Also its recordings list (through the gateway, as the tenant) and its own Greenlight's "
                          "database (pg_dump on its host, playbooks/greenlight_dump.yml)."),
        click.option("--playbooks", "data_playbooks", default="playbooks", show_default=True,
                     type=click.Path(file_okay=False, path_type=Path),
                     help="With --with-data: the directory of greenlight_dump.yml."),
        connect_to_option, ca_file_option]):
        wrapped = option(wrapped)
    return wrapped



@click.group()
def tenant() -> None:
    """Member organisations: add, move, change plan, remove, export and import them."""


@tenant.command()
@click.argument("name")
@click.option("--plan", required=True, help="The tenant's plan (fleet_plans).")
@click.option("--region", required=True, help="The tenant's region (fleet_regions).")
@click.option("--greenlight", metavar="HOST|dedicated|shared",
              help="Its own Greenlight on HOST (greenlight group), or on its region's greenlight host with the "
                   "fewest (dedicated); or the shared one (shared, the default: no site of its own).")
@click.option("--sso-client", metavar="ID", help="Its OIDC client id in Keycloak.")
@click.option("--timezone", metavar="TZ", help="Its time zone, when not its region's (e.g. America/Montreal).")
@click.option("--origin-server-name", "origin_server_names", multiple=True, metavar="NAME",
              help="bbb-origin-server-name its Greenlight sets on meetings (repeatable).")
@click.option("--sso-domain", "sso_domains", multiple=True, metavar="DOMAIN",
              help="A mail domain of its members: its Keycloak organization's domain (repeatable).")
@click.option("--explain", is_flag=True, help="Show every server with its numbers.")
@apply_options
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
@handle_busy_inventory
def add(name: str, plan: str, region: str, greenlight: str | None, sso_client: str | None, timezone: str | None,
        origin_server_names: tuple[str, ...], sso_domains: tuple[str, ...], explain: bool, inventory_dir: Path,
        observe: Observe, settings: PlacementSettings, as_json: bool, rollout: ApplyOptions) -> None:
    """Place tenant NAME (the rule: docs/placement.md) and record it in the inventory; with
    --apply, then run the playbooks that serve it and the smoke checks (docs/tenants.md).

    With --apply, a tenant already recorded as asked is not placed again, only applied: the
    way to finish a run whose playbooks failed. Exit 0 once recorded (and applied), 1 when no
    server can take it, another command holds the inventory (nothing written), or a
    playbook or smoke check failed (the record kept), 2 on bad input.
    """
    check_name(name)
    check_playbooks(rollout)
    fields: dict = {"plan": plan, "region": region}
    optional = {"greenlight": greenlight, "sso_client": sso_client, "timezone": timezone,
                "origin_server_names": list(origin_server_names) or None, "sso_domains": list(sso_domains) or None}
    fields.update({key: value for key, value in optional.items() if value is not None})
    # One session: the lock held and the inventory read once, from reading through deciding
    # to writing, so two concurrent adds neither lose a tenant nor count on the same room.
    with edit_inventory(inventory_dir, f"add tenant {name}") as edit:
        before = edit.fleet
        if rollout.apply and name in before.tenants and is_recorded_as(before.tenants[name], fields):
            recorded = None  # a rerun: placed and recorded before, only applied now
        else:
            recorded = place_new_tenant(edit, name, fields, observe, settings, as_json=as_json, explain=explain)
    if recorded is None:
        say(f"tenant {name} is already recorded as asked (on {before.tenants[name].bbb_server}): applying it",
            err=True)
    elif not as_json:
        fields, gateway, decision, _observations = recorded
        say(emphasis("recorded tenant ", (name, "bold"), f" on {decision.chosen} in {inventory_dir}"))
        if fields.get("greenlight") and not rollout.apply:
            say(f"its own Greenlight on {fields['greenlight']} (realm client {fields['sso_client']}): "
                "playbooks/greenlight.yml and playbooks/sso.yml make them (or add --apply)")
        tell_gateway(gateway)
    applied = None
    if rollout.apply:
        # Applied as an addition, also on a rerun: every reader of the tenant is brought to it.
        after = load_inventory(inventory_dir)
        applied = apply_change(readers_of(before, after, name, None), after, name, inventory_dir, rollout,
                               as_json=as_json,
                               rerun="run the same `tenant add ... --apply` again (it applies without placing again)")
    if as_json:
        if recorded is None:
            print_json({"tenant": name, "recorded": False, **before.tenants[name].model_dump(exclude_none=True),
                        "apply": applied})
        else:
            fields, gateway, decision, observations = recorded
            print_json({"tenant": name, "recorded": True, **fields, "gateway": gateway,
                        "placement": decision_json(decision, observations), "apply": applied})
    elif applied is not None:
        say(emphasis("applied tenant ", (name, "bold"), f": {applied['changed']} changes, every smoke check passed"))


def is_recorded_as(tenant: Tenant, fields: dict[str, Any]) -> bool:
    """Would `tenant add` with `fields` record what `tenant` already is? (--greenlight
    dedicated: any own Greenlight; shared: none.)"""
    record = tenant.model_dump()
    for key, value in fields.items():
        if key == "greenlight" and value in ("dedicated", "shared"):
            if (value == "dedicated") != (tenant.greenlight is not None):
                return False
        elif record.get(key) != (tuple(value) if isinstance(value, list) else value):  # the record keeps tuples
            return False
    return True


def place_new_tenant(edit: InventoryEdit, name: str, fields: dict[str, Any],
                     observe: Callable[[Fleet], Observations], settings: PlacementSettings, *, as_json: bool,
                     explain: bool) -> tuple[dict[str, Any], dict[str, str] | None, Decision, Observations]:
    """Stage a new tenant as `tenant add` does (and `tenant import`): its record checked, its
    gateway secret, then placement; the fields as recorded, the gateway's answer, the decision."""
    fleet = edit.fleet
    plan, region, timezone = fields["plan"], fields["region"], fields.get("timezone")
    if name in fleet.tenants:
        bad_input(f"tenant {name!r} already exists (on {fleet.tenants[name].bbb_server or 'no server'}); "
                  "use `meetfleet tenant move` to move it", kind="tenant_exists")
    check_placement_input(fleet, plan, region, timezone)
    fields = greenlight_choice(fleet, name, fields)
    # The whole record, still unplaced, must validate before any capacity source is asked:
    # a bad --greenlight is bad input, not something to find after placing.
    edit.check_tenant(name, fields)
    # Its gateway secret goes into the vault now, before any capacity source is asked:
    # a vault that cannot be written is found without placing anything.
    gateway = gateway_secret(edit, name) if fleet.gateway else None
    front_end_secrets(edit, name, fields)
    decision, observations = decide_or_exit(fleet, plan, region, observe, settings, as_json=as_json,
                                            explain_it=explain, what=f"tenant {name} ({plan})",
                                            json_on_success=False, timezone=timezone)
    fields = {"plan": plan, "region": region, "bbb_server": decision.chosen,
              **{key: value for key, value in fields.items() if key not in ("plan", "region")}}
    edit.set_tenant(name, fields, create=True)
    return fields, gateway, decision, observations


def greenlight_choice(fleet: Fleet, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """--greenlight as the record holds it: a host for its own Greenlight (`dedicated` picks the
    region's; its realm client is NAME unless --sso-client says otherwise), nothing for the
    shared one. The words win over hosts of those names."""
    choice = fields.get("greenlight")
    if choice == "shared":
        if fleet.sso is None or fleet.sso.shared_greenlight is None:
            bad_input("--greenlight shared: this fleet has no shared Greenlight (fleet_sso.shared_greenlight)",
                      kind="no_shared_greenlight")
        return {key: value for key, value in fields.items() if key != "greenlight"}
    if choice == "dedicated":
        hosts = {host.name: host.region for host in fleet.hosts.values() if "greenlight" in host.roles}
        try:
            choice = dedicated_host(fields["region"], hosts, fleet.tenants.values())
        except GreenlightError as exc:
            bad_input(str(exc), kind="no_greenlight_host")
    if choice is None:
        return fields
    return {**fields, "greenlight": choice, "sso_client": fields.get("sso_client", name)}


def apply_recorded(before: Fleet, name: str, inventory_dir: Path, rollout: ApplyOptions, as_json: bool,
                   command: str) -> dict[str, Any] | None:
    """With --apply, the playbooks of the change just written (before -> the inventory now)."""
    if not rollout.apply:
        return None
    after = load_inventory(inventory_dir)
    return apply_change(tenant_rollout(before, after, name), after, name, inventory_dir, rollout, as_json=as_json,
                        rerun=f"run `meetfleet {command} --apply` again (it applies what is recorded)")


def unchanged(fleet: Fleet, name: str, field: str, value: str, inventory_dir: Path, rollout: ApplyOptions,
              as_json: bool, already: str) -> None:
    """`tenant move|plan` asked for what is recorded: nothing to write; with --apply (a rerun)
    the readers of `field` are brought to the record as it is, the lock already released."""
    result: dict[str, Any] = {"tenant": name, field: value, "previous": value, "changed": False}
    if rollout.apply:
        result["apply"] = apply_change(readers_of(fleet, fleet, name, frozenset({field})), fleet, name, inventory_dir,
                                       rollout, as_json=as_json, rerun="run it again")
    print_json(result) if as_json else say(f"{already}; nothing to change")


def tell_gateway(gateway: dict[str, str] | None) -> None:
    if gateway:
        # What the member's Greenlight needs; the secret itself never on a terminal.
        say(f"its Greenlight: BIGBLUEBUTTON_ENDPOINT={gateway['endpoint']}\n"
            f"  BIGBLUEBUTTON_SECRET: the vault variable {gateway['secret_variable']} in {gateway['secret_file']} "
            f"(ansible-vault view, or the gateway and Greenlight roles render it)")


def front_end_secrets(edit: InventoryEdit, name: str, fields: dict[str, Any]) -> list[str]:
    """A tenant with its own Greenlight: stage its instance's secret (roles/greenlight derives
    SECRET_KEY_BASE and its database password from it) and its realm client's secret into the
    vault. Returns the variables staged; none, with a note, for an inventory without a vault
    file (its roles then refuse to run until they are made)."""
    variables = front_end_secret_variables(name, fields.get("greenlight"), fields.get("sso_client"))
    if not variables:
        return []
    if edit.vault_file() is None:
        say(f"note: {edit.directory} has no vault file (group_vars/all/vault.yml): make "
            f"{' and '.join(variables)} there (`openssl rand -hex 32` each) before running the playbooks", err=True)
        return []
    for variable in variables:
        edit.add_secret(variable, secrets.token_hex(32))
    return variables


def front_end_secret_variables(name: str, greenlight: str | None, sso_client: str | None) -> list[str]:
    """The vault variables of a tenant's own Greenlight: its instance's secret and its realm client's."""
    if greenlight is None:
        return []
    return [greenlight_secret_variable(name), *([Sso.secret_variable(sso_client)] if sso_client else [])]


def tenant_secret_variables(tenant: Tenant) -> list[str]:
    """Every vault variable `tenant add` may have made for the tenant (what `remove` takes back)."""
    return [Gateway.secret_variable(tenant.name),
            *front_end_secret_variables(tenant.name, tenant.greenlight, tenant.sso_client)]


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
@apply_options
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
@handle_busy_inventory
def move(name: str, target: str, force: bool, explain: bool, inventory_dir: Path,
         observe: Observe, settings: PlacementSettings, as_json: bool, rollout: ApplyOptions) -> None:
    """Move tenant NAME to SERVER, after checking SERVER can take its expected peak.

    --apply then runs what reads its server (the gateway, its Greenlight without a gateway).
    Exit 0 once recorded, 1 when SERVER cannot take it or another command holds the
    inventory (nothing written) or a playbook or smoke check failed, 2 on bad input.
    """
    check_playbooks(rollout)
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
        if previous != target:
            if force:
                refuse_forced_move(fleet, name, target, observe)
            else:
                refuse_move(fleet, moving, target, observe, settings, explain=explain and not as_json)
            edit.set_tenant(name, {"bbb_server": target}, create=False)
    if previous == target:
        unchanged(fleet, name, "bbb_server", target, inventory_dir, rollout, as_json, f"{name} is already on {target}")
        return
    applied = apply_recorded(fleet, name, inventory_dir, rollout, as_json, f"tenant move {name} --to {target}")
    if as_json:
        print_json({"tenant": name, "bbb_server": target, "previous": previous, "changed": True, "apply": applied})
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


# --- tenant plan ------------------------------------------------------------------------


@tenant.command("plan")
@click.argument("name")
@click.option("--plan", "new_plan", required=True, help="The tenant's new plan (fleet_plans).")
@click.option("--explain", is_flag=True, help="Show every server with its numbers for the tenant at the new plan.")
@apply_options
@inventory_option
@capacity_source_options
@json_option
def plan_command(name: str, new_plan: str, explain: bool, inventory_dir: Path, observe: Observe,
                 settings: PlacementSettings, as_json: bool, rollout: ApplyOptions) -> None:
    """Give tenant NAME a new service level (plan P).

    A bigger plan (more concurrent users) is refused when its server cannot take the tenant's
    expected week at the new plan (docs/tenants.md); a smaller one always fits. The gateway's
    caps follow once it reloads the inventory: --apply runs gateway.yml (it reloads) and what
    else reads the plan. Exit 0 once recorded, 1 when its server cannot take it (nothing
    written; `tenant move` first) or a playbook or smoke check failed, 2 on bad input.
    """
    check_playbooks(rollout)
    with edit_inventory(inventory_dir, f"change the plan of tenant {name}") as edit:
        fleet = edit.fleet
        moving = known_tenant(fleet, name, inventory_dir)
        if new_plan not in fleet.plans:
            bad_input(f"--plan: unknown plan {new_plan!r} (the inventory has: {', '.join(sorted(fleet.plans))})",
                      kind="unknown_plan")
        previous = moving.plan
        verdict = PlanVerdict(moving.bbb_server, bigger=False)
        if previous != new_plan:
            if is_bigger_plan(fleet, previous, new_plan) and moving.bbb_server is not None:
                observations = observe(fleet)
                verdict = check_plan_change(fleet, observations, moving, new_plan, settings)
                if explain and not as_json and verdict.decision is not None:
                    explain_placement(verdict.decision, observations, f"{name} at plan {new_plan}")
                if not verdict.ok:
                    refuse_plan(moving, new_plan, verdict)
            edit.set_tenant(name, {"plan": new_plan}, create=False)
    if previous == new_plan:
        unchanged(fleet, name, "plan", new_plan, inventory_dir, rollout, as_json,
                  f"{name} is already on plan {new_plan}")
        return
    caps = dict(zip(("max_concurrent_users", "max_rooms", "max_meeting_minutes"),
                    fleet.tenant_caps(moving.model_copy(update={"plan": new_plan})), strict=True))
    applied = apply_recorded(fleet, name, inventory_dir, rollout, as_json, f"tenant plan {name} --plan {new_plan}")
    if as_json:
        print_json({"tenant": name, "plan": new_plan, "previous": previous, "changed": True,
                    "bbb_server": moving.bbb_server, "capacity_checked": verdict.expected is not None,
                    "caps": caps, "apply": applied})
        return
    checked = "" if verdict.expected is None else \
        f"; {moving.bbb_server} takes its expected peak of {verdict.expected.load:.0f} load units"
    say(emphasis("tenant ", (name, "bold"), f": plan {previous} -> {new_plan}{checked}"))
    say(f"its caps: {caps['max_concurrent_users']} concurrent users, {caps['max_rooms']} rooms, "
        f"{caps['max_meeting_minutes']} minutes a meeting; the gateway enforces them "
        + ("now (reloaded)" if applied is not None else "once it reloads the inventory (or --apply)"))


def refuse_plan(tenant: Tenant, plan: str, verdict: PlanVerdict) -> None:
    """Exit 1: its server cannot take it at the bigger plan; where it could go instead."""
    assert verdict.expected is not None
    if verdict.best:
        then = (f"move it first: meetfleet tenant move {tenant.name} --to {verdict.best} (the server placement "
                f"would pick for it at plan {plan}), then change its plan")
    else:
        suggestions = verdict.decision.suggestions if verdict.decision else ()
        then = ("no server of region " + tenant.region + " can take it at plan " + plan
                + (": " + "; ".join(suggestions) if suggestions else ""))
    fail(f"{tenant.bbb_server} cannot take tenant {tenant.name} at plan {plan} (expected peak "
         f"{verdict.expected.load:.0f}, {verdict.expected.basis}): {'; '.join(verdict.reasons)}; {then}. "
         "Nothing was changed.", kind="server_cannot_take_plan", reasons=list(verdict.reasons), best=verdict.best,
         server=tenant.bbb_server)


def known_tenant(fleet: Fleet, name: str, inventory_dir: Path) -> Tenant:
    if name not in fleet.tenants:
        bad_input(f"no tenant {name!r} in {inventory_dir} (it has: {', '.join(sorted(fleet.tenants)) or 'none'})",
                  kind="unknown_tenant")
    return fleet.tenants[name]


# --- tenant remove ----------------------------------------------------------------------


@tenant.command()
@click.argument("name")
@click.option("--export", "export_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the tenant's export archive to FILE first (refused if FILE exists).")
@click.option("--force", is_flag=True, help="Remove it without asking the capacity source whether it has "
                                           "running meetings.")
@click.option("--with-data", is_flag=True, help="With --export: also its recordings list and its own Greenlight's "
                                               "database (reached as --apply's options say).")
@apply_options
@inventory_option
@capacity_source_options
@json_option
def remove(name: str, export_file: Path | None, force: bool, inventory_dir: Path, observe: Observe,
           settings: PlacementSettings, as_json: bool, rollout: ApplyOptions, with_data: bool) -> None:
    """Remove tenant NAME: its record in fleet_tenants and its gateway secret in the vault.

    Refused while the capacity source sees it running meetings (any load now), or cannot tell
    (its server down); without a capacity source, refused unless --force. Exit 0 once removed,
    1 when refused by the fleet's state or the export failed (nothing removed), 2 on bad input.
    """
    del settings  # the capacity source is asked for the tenant's load now only
    if with_data and export_file is None:
        bad_input("--with-data goes with --export FILE (what the archive holds)", kind="usage")
    check_playbooks(rollout)
    with edit_inventory(inventory_dir, f"remove tenant {name}") as edit:
        fleet = edit.fleet
        gone = known_tenant(fleet, name, inventory_dir)
        # Staged first (nothing written yet): a vault that cannot be decrypted is found before
        # any capacity source is asked or any export written.
        edit.remove_tenant(name)
        removed = {variable: path for variable in tenant_secret_variables(gone)
                   if (path := edit.remove_secret(variable)) is not None}
        if force:
            say(f"note: --force: whether {name} has running meetings was not checked", err=True)
        else:
            refuse_running(fleet, gone, observe)
        if export_file is not None:
            write_export(fleet, name, inventory_dir, export_file,
                         WithData(rollout.playbooks_dir, rollout.routes, rollout.ca_file) if with_data else None)
    result = {"tenant": name, "removed": True, "bbb_server": gone.bbb_server,
              "secrets_removed": [{"variable": variable, "file": str(path)} for variable, path in removed.items()],
              "export": None if export_file is None else str(export_file), "checked_meetings": not force}
    if rollout.apply:
        # Its site retired, its client and organization pruned, the gateway reloaded without it.
        after = load_inventory(inventory_dir)
        result["apply"] = apply_change(tenant_rollout(fleet, after, name), after, name, inventory_dir, rollout,
                                       as_json=as_json, rerun="run the playbooks listed (the tenant is gone from it)")
    if as_json:
        print_json(result)
        return
    if export_file is not None:
        say(f"exported {name} to {export_file}")
    files = ", ".join(sorted({str(path) for path in removed.values()}))
    say(emphasis("removed tenant ", (name, "bold"), f" from {inventory_dir}"
                 + (f" and its secrets {', '.join(removed)} from {files}" if removed else "")))
    if not rollout.apply:
        say("next: playbooks/gateway.yml, playbooks/sso.yml (its client and organization pruned) and "
            "playbooks/greenlight.yml (its site and container retired; its database kept for the export), "
            "or remove with --apply")


def refuse_running(fleet: Fleet, tenant: Tenant, observe: Observe) -> None:
    """Exit 1 while the capacity source sees the tenant's meetings, or cannot see its server."""
    if observe.source(fleet) is None:
        bad_input(f"no capacity source, so whether {tenant.name} has running meetings cannot be checked: give "
                  "--prometheus or --exporter (or fleet_capacity_source), or --force to remove it without "
                  "checking. Nothing was changed.", kind="no_capacity_source")
    observations = observe(fleet)
    seen = observations.tenants.get(tenant.name)
    running = {server: load for server, load in (seen.load_now_on.items() if seen else ()) if load > 0}
    if running:
        where = ", ".join(f"{server} ({load:.0f} load units)" for server, load in sorted(running.items()))
        fail(f"tenant {tenant.name} has running meetings now: {where}. End them (or wait) and run this again; "
             "nothing was changed.", kind="tenant_has_meetings", servers=sorted(running))
    server = tenant.bbb_server
    if server is not None and (server in observations.refused or not getattr(
            observations.servers.get(server), "up", False)):
        why = observations.refused.get(server) or "down or not observed"
        fail(f"cannot tell whether tenant {tenant.name} has running meetings: its server {server} is {why} "
             "for the capacity source. Nothing was changed (--force removes it without checking).",
             kind="meetings_unknown", server=server)


# --- tenant export / import -------------------------------------------------------------


def export_data(fleet: Fleet, name: str, inventory_dir: Path, with_data: WithData) -> dict[str, Any]:
    """The data members of tenant `name`'s export, or why one is absent; exit 1 if a fetch fails."""
    found: dict[str, Any] = {}
    absent = []
    try:
        found["recordings"] = collect.recordings(fleet, name, inventory_dir, with_data.routes, with_data.ca_file)
    except collect.NotAvailable as exc:
        absent.append(("recordings", str(exc)))
    except collect.CollectError as exc:
        fail(f"export of {name}: its recordings: {exc}; nothing was written", kind="export_failed")
    try:
        found["greenlight_dump"] = collect.greenlight_database(fleet, name, inventory_dir, with_data.playbooks_dir,
                                                               ansible_playbook())
    except collect.NotAvailable as exc:
        absent.append(("greenlight_database", str(exc)))
    except collect.CollectError as exc:
        fail(f"export of {name}: its Greenlight database: {exc}; nothing was written", kind="export_failed")
    return {**found, "absent": tuple(absent)}


def write_export(fleet: Fleet, name: str, inventory_dir: Path, output: Path,
                 with_data: WithData | None = None) -> Path:
    """Write tenant `name`'s archive to `output` (never over an existing file). Exit 1 if it fails."""
    export = export_of(fleet, name, inventory_dir.resolve().name)
    if with_data is not None:
        export = replace(export, **export_data(fleet, name, inventory_dir, with_data))
    data = build_archive(export)
    try:
        write_archive(output, data)
    except FileExistsError:
        bad_input(f"{output} exists: remove it or choose another file; nothing was changed", kind="export_exists")
    except OSError as exc:
        fail(f"cannot write the export of {name} to {output}: {exc.strerror or exc}; nothing was changed",
             kind="export_failed")
    return output


@tenant.command("export")
@click.argument("name", required=False)
@click.option("--all", "everyone", is_flag=True, help="Every tenant, one archive each (NAME.tar.gz in DIR).")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path), metavar="FILE|DIR",
              help="The archive to write (with --all: the directory to write them into; made if missing).")
@with_data_options
@inventory_option
@json_option
def export_command(name: str | None, everyone: bool, output: Path, inventory_dir: Path, as_json: bool,
                   with_data: WithData | None) -> None:
    """Write tenant NAME's export archive (docs/tenants.md): its record and plan, no secret;
    with --with-data also its recordings list and its own Greenlight's database.

    What is not in it, the manifest says, and why. Existing files are never overwritten.
    Exit 0 once written, 1 when writing or fetching fails (nothing written), 2 on bad input.
    """
    if everyone == (name is not None):
        bad_input("give a tenant NAME or --all (not both)", kind="usage")
    fleet = load_inventory(inventory_dir)  # read only: writes are atomic renames, never seen half done
    if name is not None:
        known_tenant(fleet, name, inventory_dir)
        targets = {name: output}
    else:
        if output.exists() and not output.is_dir():
            bad_input(f"--output: {output} is not a directory (--all writes one archive per tenant into it)",
                      kind="export_exists")
        targets = {tenant: output / f"{tenant}.tar.gz" for tenant in sorted(fleet.tenants)}
        existing = [str(path) for path in targets.values() if path.exists() or path.is_symlink()]
        if existing:
            bad_input(f"{', '.join(existing)} exist{'s' if len(existing) == 1 else ''}: remove "
                      f"{'it' if len(existing) == 1 else 'them'} or choose another directory; nothing was written",
                      kind="export_exists")
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"cannot make {output}: {exc.strerror or exc}", kind="export_failed")
    written = []
    for tenant_name, path in targets.items():
        write_export(fleet, tenant_name, inventory_dir, path, with_data)
        written.append({"tenant": tenant_name, "file": str(path)})
        if not as_json:
            say(f"exported {tenant_name} to {path}")
    if as_json:
        print_json({"exported": written, "with_data": with_data is not None,
                    "not_included": {key: why for key, why in NOT_INCLUDED.items()
                                     if with_data is None or key not in ("recordings", "greenlight_database")}})
    else:
        say(("not included: " if with_data is not None else
             "not included: the recordings list and the Greenlight database (--with-data adds them), ")
            + "secrets and the placement (the importing fleet makes its own); each archive's manifest says why")


def mapping(option: str, values: tuple[str, ...]) -> tuple[dict[str, str], str | None]:
    """--plan/--region values: OLD=NEW pairs, or one bare NAME for every archive."""
    pairs, bare = {}, [v for v in values if "=" not in v]
    for value in values:
        if "=" in value:
            old, _, new = value.partition("=")
            pairs[old] = new
    if len(bare) > 1 or (bare and pairs):
        bad_input(f"{option}: give one NAME for every archive, or OLD=NEW pairs (not both)", kind="usage")
    return pairs, (bare[0] if bare else None)


@tenant.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--plan", "plans", multiple=True, metavar="P|OLD=NEW",
              help="The plan in this inventory: one for every archive, or OLD=NEW (repeatable); default the "
                   "exported plan's name.")
@click.option("--region", "regions", multiple=True, metavar="R|OLD=NEW",
              help="The region in this inventory, as --plan; default the exported region's name.")
@click.option("--explain", is_flag=True, help="Show every server with its numbers for each placement.")
@inventory_option
@capacity_source_options
@json_option
def import_command(files: tuple[Path, ...], plans: tuple[str, ...], regions: tuple[str, ...], explain: bool,
                   inventory_dir: Path, observe: Observe, settings: PlacementSettings, as_json: bool) -> None:
    """Import the tenants of export archives FILE... into the inventory, placing each as
    `tenant add` does. One edit session per archive, in order, stopping at the first refusal
    (what was imported before it stays, and is reported).

    Exit 0 once all are recorded, 1 when one cannot be placed, 2 on a bad archive or input.
    """
    plan_map, plan_all = mapping("--plan", plans)
    region_map, region_all = mapping("--region", regions)
    # The capacity source is read once for the whole loop: each placement still sees the
    # inventory as the previous imports left it (new tenants count as recent, at their plans).
    cache: list[Observations] = []

    def observed(fleet: Fleet) -> Observations:
        if not cache:
            cache.append(observe(fleet))
        return cache[0]

    imported: list[dict[str, Any]] = []
    for path in files:
        try:
            imported.append(import_one(path, inventory_dir, plan_all or None, plan_map, region_all, region_map,
                                       observed, settings, as_json=as_json, explain=explain))
        except Exception as exc:
            error = as_command_error(exc)
            error.document = {**error.document, "imported": imported, "refused": str(path)}
            error.message = f"{path}: {error.message}"
            if not as_json:
                done = ", ".join(i["tenant"] for i in imported) or "none"
                say(f"imported before it: {done}; not tried: {len(files) - len(imported) - 1} archive(s)", err=True)
            raise error from None
    if as_json:
        print_json({"imported": imported})


def data_notes(exported: Export, path: Path) -> list[str]:
    """What the archive carries beyond the record, and what the importing cooperative does with it."""
    notes = []
    if exported.greenlight_dump is not None:
        notes.append(f"its Greenlight database ({len(exported.greenlight_dump):,} bytes) is in {path.name}: once its "
                     "instance runs here, restore it on that host (docs/tenants.md, \"Moving a member's data\")")
    if exported.recordings is not None:
        notes.append(f"{len(exported.recordings)} recordings listed in {path.name}; their files stay on the old "
                     "fleet's BBB servers until copied (docs/tenants.md)")
    return notes


def import_one(path: Path, inventory_dir: Path, plan_all: str | None, plan_map: dict[str, str],
               region_all: str | None, region_map: dict[str, str], observe: Callable[[Fleet], Observations],
               settings: PlacementSettings, *, as_json: bool, explain: bool) -> dict[str, Any]:
    try:
        exported = read_archive(path)
    except ArchiveError as exc:
        bad_input(str(exc), kind="bad_archive")
    name = exported.tenant.name
    record = exported.record()
    notes: list[str] = []
    with edit_inventory(inventory_dir, f"import tenant {name}") as edit:
        fleet = edit.fleet
        plan = plan_all or plan_map.get(record["plan"], record["plan"])
        if plan not in fleet.plans:
            bad_input(f"tenant {name}'s plan {plan!r} is not in {inventory_dir} (it has: "
                      f"{', '.join(sorted(fleet.plans))}): give --plan P or --plan {record['plan']}=P",
                      kind="unknown_plan")
        region = region_all or region_map.get(record["region"], record["region"])
        if region not in fleet.regions:
            bad_input(f"tenant {name}'s region {region!r} is not in {inventory_dir} (it has: "
                      f"{', '.join(sorted(fleet.regions))}): give --region R or --region {record['region']}=R",
                      kind="unknown_region")
        ours = fleet.plans[plan]
        differs = [f"{key} {getattr(exported.plan, key)} -> {getattr(ours, key)}"
                   for key in ("max_concurrent_users", "max_rooms", "max_meeting_minutes")
                   if getattr(exported.plan, key) != getattr(ours, key)]
        if differs:
            notes.append(f"plan {plan} here is not the exported {exported.plan.name}: {', '.join(differs)}")
        greenlight = record.get("greenlight")
        if greenlight is not None and "greenlight" not in getattr(fleet.hosts.get(greenlight), "roles", ()):
            # Its site is not here: the member keeps its record, the new fleet gives it a site later.
            record.pop("greenlight")
            notes.append(f"dropped greenlight {greenlight}: {inventory_dir} has no such host in its greenlight "
                         "group (set it with the Greenlight role's host once there is one)")
        fields = {**record, "plan": plan, "region": region}
        ordered = {key: fields[key] for key in ("plan", "region", "greenlight", "sso_client", "sso_domains",
                                                "timezone", "origin_server_names", "limits") if key in fields}
        fields, gateway, decision, observations = place_new_tenant(edit, name, ordered, observe, settings,
                                                                   as_json=as_json, explain=explain)
    notes.extend(data_notes(exported, path))
    result = {"tenant": name, "file": str(path), **fields, "notes": notes, "gateway": gateway,
              "placement": decision_json(decision, observations),
              "data": {"recordings": None if exported.recordings is None else len(exported.recordings),
                       "greenlight_dump_bytes": None if exported.greenlight_dump is None else
                       len(exported.greenlight_dump)}}
    if not as_json:
        say(emphasis("imported tenant ", (name, "bold"), f" on {decision.chosen} in {inventory_dir}"))
        for note in notes:
            say(f"note: {note}")
        tell_gateway(gateway)
    return result
