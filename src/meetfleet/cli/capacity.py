"""`meetfleet capacity`: every BBB server's load, capacity, spare capacity and tenants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from meetfleet.cli.output import console, handle_inventory_errors, json_option, print_json
from meetfleet.cli.placement import capacity_source_options, inventory_option, server_table
from meetfleet.fleet import load_inventory
from meetfleet.placement import Observations, PlacementSettings, server_spares
from meetfleet.placement.spare import tenants_by_server


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


@click.command("capacity")
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
def capacity(inventory_dir: Path, observe: Callable[[], Observations], settings: PlacementSettings,
             as_json: bool) -> None:
    """Show each BBB server's load now, peak over the window, capacity, spare and tenants."""
    fleet = load_inventory(inventory_dir)
    observations = observe()
    spares = server_spares(fleet, observations, settings)
    placed = tenants_by_server(fleet)
    if as_json:
        print_json({"source": observations.source, "window_seconds": observations.window_seconds,
                    "headroom": settings.headroom, "servers": [
                        {"server": s.server, "region": s.region, "state": s.state.value, "up": s.up,
                         "capacity": s.capacity, "load_now": s.load_now, "observed_peak": round(s.observed_peak, 1),
                         "recent_load": round(s.recent_load, 1), "spare": round(s.spare, 1),
                         "tenants": sorted(t.name for t in placed.get(s.server, []))}
                        for s in spares.values()]})
        return
    server_table(f"Capacity (load units; source {observations.source}, headroom {settings.headroom:.0%})",
          ["server", "region", "state", "up", "now", "peak", "recent", "capacity", "spare", "tenants"],
          [(s.server, s.region, s.state.value, {None: "?", True: "up", False: "DOWN"}[s.up], _fmt(s.load_now),
            _fmt(s.observed_peak), _fmt(s.recent_load), s.capacity, _fmt(s.spare),
            len(placed.get(s.server, [])))
           for s in spares.values()])
    console.print("spare = capacity - headroom - peak - recent (tenants placed too recently to be in the peak)",
                  highlight=False)
