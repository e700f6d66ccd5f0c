"""`meetfleet place`: choose the BBB server for a new tenant, and explain the choice; the
placement tables and JSON that `tenant add|move` print too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from meetfleet.cli.options import Observe, capacity_source_options, inventory_option
from meetfleet.cli.output import (
    EXIT_FAILURE,
    CommandError,
    emphasis,
    handle_inventory_errors,
    json_option,
    print_json,
    say,
    table,
)
from meetfleet.fleet import Fleet, PlacementPolicy, load_inventory
from meetfleet.placement import Decision, Observations, PlacementSettings, place
from meetfleet.placement.decide import Candidate, check_request


def candidate_row(c: Candidate) -> tuple:
    s = c.spare
    return (s.server, s.region, s.state.value, {None: "?", True: "up", False: "DOWN"}[s.up], s.capacity,
            f"{s.observed_peak:.0f}", f"{s.recent_load:.0f}", f"{s.spare:.0f}", f"{c.spare_after:.0f}",
            c.tightest or "-", {None: "-", True: "yes", False: "no"}[c.packable])


def verdict(c: Candidate, chosen: str | None, winner: Candidate | None = None) -> str:
    tightest = f" (tightest hour: {c.tightest})" if c.tightest else ""
    if c.server == chosen:
        if c.packable:
            return f"chosen: the fullest server safe to pack{tightest}"
        return f"chosen: the most spare capacity left once placed{tightest}"
    if c.eligible:
        if winner is not None and winner.packable and c.packable:
            return f"eligible, more spare than the chosen one: kept for bigger tenants{tightest}"
        if winner is not None and winner.packable:
            return f"eligible, not safe to pack (too little room if it and recent tenants reach their caps){tightest}"
        return f"eligible, less spare than the chosen one{tightest}"
    return "excluded: " + "; ".join(c.reasons)


CANDIDATE_COLUMNS = ["server", "region", "state", "up", "capacity", "peak", "recent", "spare", "after",
                     "tightest hour", "pack"]


def candidate_json(c: Candidate) -> dict[str, Any]:
    s = c.spare
    return {"server": s.server, "region": s.region, "state": s.state.value, "up": s.up, "capacity": s.capacity,
            "usable": round(s.usable, 1), "load_now": s.load_now, "observed_peak": round(s.observed_peak, 1),
            "recent_tenants": {name: round(load, 1) for name, load in s.recent_tenants},
            "spare": round(s.spare, 1), "spare_after": round(c.spare_after, 1),
            "tightest_hour_of_week_utc": c.tightest_hour if s.hour_detail else None,
            "tightest_hour": c.tightest or None, "hour_detail": s.hour_detail, "safe_to_pack": c.packable,
            "eligible": c.eligible, "excluded_because": list(c.reasons)}


def decision_json(d: Decision, observations: Observations) -> dict[str, Any]:
    return {"chosen": d.chosen, "plan": d.plan, "region": d.region, "policy": d.policy.value,
            "expected_load": round(d.expected.load, 1), "expected_from": d.expected.basis,
            "source": observations.source, "window_seconds": observations.window_seconds,
            "candidates": [candidate_json(c) for c in d.candidates], "what_would_fit": list(d.suggestions)}


def explain(d: Decision, observations: Observations, title: str) -> None:
    table(f"{title}: expected peak {d.expected.load:.0f} load units ({d.expected.basis}); "
                 f"source {observations.source}", CANDIDATE_COLUMNS, [candidate_row(c) for c in d.candidates])
    for c in d.candidates:
        say(f"{c.server}: {verdict(c, d.chosen, d.winner)}")
    say("peak: highest load over the window; recent: expected load (at its peak) of tenants placed "
        "too recently to be in the observed peaks; spare: capacity minus headroom, observed and recent "
        "load at the tightest hour of the week; after: the same once placed, at the tightest hour "
        "shown (local time; '-' without hour detail: a snapshot or a window under a week); pack: "
        "could take the tenant even if it and the recent tenants used their whole plans ('-': not "
        f"asked by the policy). Policy {d.policy.value} (fleet_placement_policy): {POLICY_RULES[d.policy]}; "
        "ties go to the larger share of capacity left, then to the name.")


# How each policy ranks the eligible servers, as the legend of --explain says it.
POLICY_RULES = {
    PlacementPolicy.MOST_SPARE: "the server with the most spare capacity left once placed wins",
    PlacementPolicy.PACK: "the fullest server safe to pack wins, else the most spare after",
}


def nothing_fits(d: Decision, observations: Observations, what: str) -> CommandError:
    """Nothing can take the tenant: exit 1, what would fit on stderr; the whole placement in --json."""
    message = f"no server can take {what}: every candidate is excluded (--explain shows why). What would:"
    human = emphasis(("error:", "red"), " ", message, *(f"\n  - {line}" for line in d.suggestions))
    return CommandError(message, EXIT_FAILURE, "nothing_fits", details={"what_would_fit": list(d.suggestions)},
                        document=decision_json(d, observations), human=human)


@click.command("place")
@click.option("--plan", required=True, help="The tenant's plan (fleet_plans).")
@click.option("--region", required=True, help="The tenant's region (fleet_regions).")
@click.option("--timezone", metavar="TZ", help="The tenant's time zone, when not its region's (e.g. America/Halifax).")
@click.option("--explain", is_flag=True, help="Show every server with its numbers and why it won or was excluded.")
@inventory_option
@capacity_source_options
@json_option
@handle_inventory_errors
def place_command(plan: str, region: str, timezone: str | None, explain: bool, inventory_dir: Path,
                  observe: Observe, settings: PlacementSettings, as_json: bool) -> None:
    """Choose the BBB server for a new tenant of PLAN in REGION (nothing is written).

    Exit 0 with the server, 1 when no server can take it (with what would), 2 on bad input.
    """
    fleet = load_inventory(inventory_dir)
    decide_or_exit(fleet, plan, region, observe, settings, as_json=as_json, explain_it=explain,
                   what=f"a {plan} tenant", timezone=timezone)


def check_placement_input(fleet: Fleet, plan: str, region: str, timezone: str | None) -> None:
    """Bad plan, region or time zone: exit 2 (output.py) before any capacity source is contacted."""
    check_request(fleet, plan, region, timezone)


def decide_or_exit(fleet: Fleet, plan: str, region: str, observe: Observe,
                   settings: PlacementSettings, *, as_json: bool, explain_it: bool, what: str,
                   json_on_success: bool = True, timezone: str | None = None) -> tuple[Decision, Observations]:
    """Place and print the outcome; exit 1 (with what would fit) when nothing does, 2 on bad input."""
    check_placement_input(fleet, plan, region, timezone)
    observations = observe(fleet)
    decision = place(fleet, observations, plan, region, settings, timezone=timezone)
    if not as_json and (explain_it or decision.chosen is None):
        explain(decision, observations, f"Placing {what} in {region}")
    if decision.chosen is None:
        raise nothing_fits(decision, observations, what)
    if as_json and json_on_success:
        print_json(decision_json(decision, observations))
    if not as_json:
        w = decision.winner
        tightest = f", tightest hour: {w.tightest}" if w.tightest else ""
        say(emphasis("chosen: ", (decision.chosen, "bold"),
                     f" (spare {w.spare.spare:.0f} -> {w.spare_after:.0f} of capacity {w.spare.capacity}, "
                     f"expected peak {decision.expected.load:.0f}{tightest})"))
    return decision, observations
