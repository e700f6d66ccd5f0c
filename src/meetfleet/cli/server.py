"""`meetfleet server cordon|uncordon|drain NAME`: change a BBB server's state in the inventory."""

from __future__ import annotations

from pathlib import Path

import click

from meetfleet.cli.options import inventory_option
from meetfleet.cli.output import (
    bad_input,
    emphasis,
    handle_busy_inventory,
    handle_inventory_errors,
    json_option,
    print_json,
    say,
)
from meetfleet.fleet import ServerState
from meetfleet.fleet.writer import edit_inventory

STATE_KEY = "fleet_bbb_state"


@click.group()
def server() -> None:
    """Cordon, uncordon or drain a BBB server (its fleet_bbb_state in host_vars)."""


def _set_state(inventory_dir: Path, name: str, state: ServerState, as_json: bool) -> None:
    with edit_inventory(inventory_dir, f"set {STATE_KEY} of {name}") as edit:
        fleet = edit.fleet
        host = fleet.bbb_servers.get(name)
        if host is None or host.bbb is None:
            bad_input(f"{name!r} is not a BBB server of {inventory_dir} "
                      f"(it has: {', '.join(sorted(fleet.bbb_servers))})", kind="unknown_server")
        previous = host.bbb.state
        tenants = sorted(t.name for t in fleet.tenants_on(name))
        if previous != state:
            edit.set_host_var(name, STATE_KEY, state.value)
    if as_json:
        print_json({"server": name, "state": state.value, "previous": previous.value,
                    "changed": previous != state, "tenants": tenants})
        return
    if previous == state:
        say(f"{name} is already {state.value}; nothing to do")
    else:
        say(emphasis(f"{name}: {previous.value} -> ", (state.value, "bold")))
    if state == ServerState.DRAINING and tenants:
        say(f"{len(tenants)} tenant(s) to move away: {', '.join(tenants)}\n"
            "  for each: meetfleet place --plan PLAN --region REGION, then "
            "meetfleet tenant move TENANT --to SERVER")


def _state_command(verb: str, state: ServerState, doc: str):
    @server.command(verb, help=doc)
    @click.argument("name")
    @inventory_option
    @json_option
    @handle_inventory_errors
    @handle_busy_inventory
    def command(name: str, inventory_dir: Path, as_json: bool) -> None:
        _set_state(inventory_dir, name, state, as_json)

    return command


cordon = _state_command("cordon", ServerState.CORDONED,
                        "Take no new tenants on NAME; its tenants stay (fleet_bbb_state: cordoned).")
uncordon = _state_command("uncordon", ServerState.ACTIVE, "Let NAME take new tenants again (fleet_bbb_state: active).")
drain = _state_command("drain", ServerState.DRAINING,
                       "Mark NAME as draining: no new tenants, and its tenants are to be moved away.")
