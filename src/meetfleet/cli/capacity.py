"""`meetfleet capacity`: every BBB server's load, capacity, spare capacity and tenants."""

from __future__ import annotations

from pathlib import Path

import click

from meetfleet.cli.options import Observe, capacity_source_options, inventory_option
from meetfleet.cli.output import handle_inventory_errors, json_option, print_json, say, table
from meetfleet.fleet import load_inventory
from meetfleet.placement import PlacementSettings, server_spares
from meetfleet.placement.profile import describe_hour
from meetfleet.placement.spare import LoadModel, ServerSpare, tenants_by_server


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def _tightest(s: ServerSpare, model: LoadModel) -> str | None:
    """The hour of the week with the least spare, in the server's region's local time."""
    if not s.hour_detail:
        return None
    if max(s.free) == s.spare:
        return "every hour"
    return describe_hour(s.free.index(s.spare), model.timezone(region=s.region), model.observations.at)


@click.command("capacity")
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
def capacity(inventory_dir: Path, observe: Observe, settings: PlacementSettings, as_json: bool) -> None:
    """Show each BBB server's load now, peak over the window, capacity, spare and tenants."""
    fleet = load_inventory(inventory_dir)
    observations = observe(fleet)
    spares = server_spares(fleet, observations, settings)
    model = LoadModel(fleet, observations, settings)
    tightest = {name: _tightest(s, model) for name, s in spares.items()}
    placed = tenants_by_server(fleet)
    if as_json:
        print_json({"source": observations.source, "window_seconds": observations.window_seconds,
                    "headroom": settings.headroom, "servers": [
                        {"server": s.server, "region": s.region, "state": s.state.value, "up": s.up,
                         "capacity": s.capacity, "load_now": s.load_now, "observed_peak": round(s.observed_peak, 1),
                         "recent_load": round(s.recent_load, 1), "spare": round(s.spare, 1),
                         "tightest_hour": tightest[s.server],
                         "tenants": sorted(t.name for t in placed.get(s.server, []))}
                        for s in spares.values()]})
        return
    table(f"Capacity (load units; source {observations.source}, headroom {settings.headroom:.0%})",
                 ["server", "region", "state", "up", "now", "peak", "recent", "capacity", "spare", "tightest hour",
                  "tenants"],
                 [(s.server, s.region, s.state.value, {None: "?", True: "up", False: "DOWN"}[s.up], _fmt(s.load_now),
                   _fmt(s.observed_peak), _fmt(s.recent_load), s.capacity, _fmt(s.spare), tightest[s.server] or "-",
                   len(placed.get(s.server, [])))
                  for s in spares.values()])
    say("spare = capacity - headroom - observed peak - recent tenants' expected load, at the tightest "
        "hour of the week (local time; '-': no hour detail, the peak counts at every hour)")
