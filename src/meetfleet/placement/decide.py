"""The placement decision: which eligible server takes a newcomer, and why.

A server is a candidate when it is up, active and in the tenant's region, and the
tenant's expected load fits in its free capacity at every hour of the week.

Among candidates, by the fleet's policy (`Fleet.placement_policy`, fleet_placement_policy):
* most_spare (the default, the mission's rule): the server with the most spare left at
  its tightest hour once the newcomer is placed wins: the newcomer gets the widest margin.
* pack: the servers that could take the newcomer even if it, and every tenant there
  still without enough history (spare.py), used its plan's whole cap are "safe to pack":
  the fullest of them wins (the least spare left at its tightest hour), keeping the
  emptiest servers free for the next big tenant. When none is, the most spare wins.
Ties go to the larger share of capacity left, then to the name (alphabetical), so the
same inputs always give the same answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from meetfleet.capacity.load import DEFAULT_LOAD_UNITS_PER_CPU
from meetfleet.fleet import Fleet, PlacementPolicy, ServerState, Tenant
from meetfleet.placement.expected import ExpectedLoad
from meetfleet.placement.observations import Observations
from meetfleet.placement.profile import describe_hour, utc_offset_minutes
from meetfleet.placement.spare import LoadModel, PlacementSettings, ServerSpare, tenants_by_server


class PlacementInputError(ValueError):
    """The request names a plan, region or time zone the inventory (or the world) does not have.

    `field`: which part of the request ("plan", "region", "timezone"). The fleet itself was
    validated when loaded; only what a request adds is checked here."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def check_request(fleet: Fleet, plan: str, region: str, timezone: str | None = None) -> None:
    """A placement request's plan, region and time zone exist: PlacementInputError if not.
    Cheap and offline, so commands call it before any capacity source is asked."""
    if plan not in fleet.plans:
        raise PlacementInputError("plan", f"unknown plan {plan!r} "
                                          f"(the inventory has: {', '.join(sorted(fleet.plans))})")
    if region not in fleet.regions:
        raise PlacementInputError("region", f"unknown region {region!r} "
                                            f"(the inventory has: {', '.join(sorted(fleet.regions))})")
    if timezone is not None:
        try:
            utc_offset_minutes(timezone, 0)
        except KeyError:
            raise PlacementInputError("timezone", f"{timezone!r} is not a known time zone "
                                                  "(an IANA name such as America/Halifax)") from None


@dataclass(frozen=True)
class Candidate:
    spare: ServerSpare
    spare_after: float  # spare capacity left at the tightest hour once the tenant is placed
    reasons: tuple[str, ...]  # why it is excluded; empty when eligible
    tightest_hour: int = 0  # that hour of the week (UTC, profile.py)
    tightest: str = ""  # that hour in the region's local time; empty without hour detail
    # Fits even at the newcomer's and recent tenants' plan caps; None: not evaluated (only
    # the pack policy asks, and it costs a second hour-by-hour sum per server).
    packable: bool | None = None

    @property
    def server(self) -> str:
        return self.spare.server

    @property
    def eligible(self) -> bool:
        return not self.reasons

    def sort_key(self, policy: PlacementPolicy = PlacementPolicy.MOST_SPARE) -> tuple[bool, float, float, str]:
        """most_spare: the most spare left first. pack: safe to pack and fullest first, then most spare."""
        share = self.spare_after / self.spare.capacity
        if policy == PlacementPolicy.PACK and self.packable:
            return (False, self.spare_after, -share, self.server)
        return (policy == PlacementPolicy.PACK, -self.spare_after, -share, self.server)


@dataclass(frozen=True)
class Decision:
    region: str
    expected: ExpectedLoad
    candidates: tuple[Candidate, ...]  # the winner first, then eligible, then excluded
    chosen: str | None
    suggestions: tuple[str, ...] = field(default_factory=tuple)
    plan: str | None = None
    policy: PlacementPolicy = PlacementPolicy.MOST_SPARE  # the rule that ranked the candidates

    @property
    def winner(self) -> Candidate | None:
        return self.candidates[0] if self.chosen else None


def _exclusions(spare: ServerSpare, region: str, expected: ExpectedLoad, hour: int, when: str) -> tuple[str, ...]:
    reasons = []
    if spare.refused:
        reasons.append(f"unknown load (the capacity source served {spare.refused})")
    elif spare.up is None:
        reasons.append("down (no observation from the capacity source)")
    elif not spare.up:
        reasons.append("down (meetfleet_server_up is 0)")
    if spare.state != ServerState.ACTIVE:
        reasons.append(spare.state.value)
    if spare.region != region:
        reasons.append(f"other region ({spare.region})")
    free, load = spare.free[hour], expected.hourly[hour]
    if load > free:
        at = f" at {when}" if when else ""
        reasons.append(f"would pass its capacity{at} (spare {free:.0f} < expected {load:.0f})")
    return tuple(reasons)


def evaluate(fleet: Fleet, observations: Observations, region: str, expected: ExpectedLoad,
             settings: PlacementSettings | None = None, moving: Tenant | None = None,
             model: LoadModel | None = None, at_cap: ExpectedLoad | None = None,
             policy: PlacementPolicy | None = None) -> Decision:
    """Rank every BBB server of the fleet for a tenant of `expected` load in `region`.

    `moving`: a tenant already placed; its own load is left out of every server's
    recent-tenant sum (it is what is being placed). `policy`: the fleet's unless given.
    `at_cap`: the newcomer at its plan's whole cap, for the pack policy; without it no
    server is "safe to pack" and the most spare wins.
    """
    settings = settings or PlacementSettings()
    policy = policy or fleet.placement_policy
    model = model or LoadModel(fleet, observations, settings)
    grouped = tenants_by_server(fleet)
    timezone = model.timezone(region=region)
    candidates = []
    for name, host in fleet.bbb_servers.items():
        tenants = [t for t in grouped.get(name, ()) if moving is None or t.name != moving.name]
        spare = model.server(host, tenants)
        after, hour = spare.after(expected.hourly)
        when = describe_hour(hour, timezone, observations.at) if spare.hour_detail else ""
        reasons = _exclusions(spare, region, expected, hour, when)
        packable = None
        if policy == PlacementPolicy.PACK:
            packable = at_cap is not None and not reasons and spare.fits_at_caps(at_cap.hourly)
        candidates.append(Candidate(spare, after, reasons, hour, when, packable))
    eligible = sorted((c for c in candidates if c.eligible), key=lambda c: c.sort_key(policy))
    excluded = sorted((c for c in candidates if not c.eligible), key=lambda c: (c.spare.region != region, c.server))
    chosen = eligible[0].server if eligible else None
    suggestions = () if chosen else tuple(_what_would_fit(fleet, model, candidates, region, expected, settings))
    return Decision(region, expected, (*eligible, *excluded), chosen, suggestions, policy=policy)


def place(fleet: Fleet, observations: Observations, plan: str, region: str,
          settings: PlacementSettings | None = None, timezone: str | None = None,
          policy: PlacementPolicy | None = None) -> Decision:
    """Choose the server for a new tenant of `plan` in `region` (its time zone: the region's).

    `policy`: how to choose among the servers it fits on; the fleet's (most_spare unless
    the inventory says fleet_placement_policy: pack) when not given.
    """
    check_request(fleet, plan, region, timezone)
    settings = settings or PlacementSettings()
    model = LoadModel(fleet, observations, settings)
    policy = policy or fleet.placement_policy
    expected = model.newcomer(plan, region, timezone)
    at_cap = model.newcomer(plan, region, timezone, at_cap=True) if policy == PlacementPolicy.PACK else None
    decision = evaluate(fleet, observations, region, expected, settings, model=model, at_cap=at_cap, policy=policy)
    return Decision(decision.region, expected, decision.candidates, decision.chosen, decision.suggestions, plan,
                    policy)


def _what_would_fit(fleet: Fleet, model: LoadModel, candidates: list[Candidate], region: str,
                    expected: ExpectedLoad, settings: PlacementSettings) -> list[str]:
    """When nothing fits: the changes that would make a placement possible."""
    here = [c for c in candidates if c.spare.region == region]
    open_servers = [c for c in here if c.spare.up and c.spare.state == ServerState.ACTIVE]
    out = []
    timezone = model.timezone(region=region)
    if open_servers:
        best = max(open_servers, key=lambda c: (c.spare_after, c.server))
        when = f" at {best.tightest}" if best.tightest else ""
        out.append(f"the most spare in region {region} is {best.server} with {best.spare.spare:.0f} load units; "
                   f"this tenant is expected to need {expected.load:.0f} at its peak "
                   f"({-best.spare_after:.0f} too many{when})")
        smaller = [name for name, load in sorted(model.plan_loads.items(), key=lambda kv: kv[1])
                   if best.spare.after(model.plan_week(name, timezone))[0] >= 0]
        if smaller:
            out.append(f"a smaller plan would fit on {best.server}: {', '.join(smaller)}")
    for c in here:
        if c.spare.state == ServerState.CORDONED and c.spare.up and c.spare_after >= 0:
            out.append(f"uncordon {c.server} (spare {c.spare.spare:.0f}): meetfleet server uncordon {c.server}")
        # Not a server whose values were refused: its "spare" assumes no load, it measured nothing.
        if c.spare.state == ServerState.ACTIVE and not c.spare.up and not c.spare.refused and c.spare_after >= 0:
            out.append(f"bring {c.server} back up (it would have {c.spare.spare:.0f} spare)")
    needed = math.ceil(expected.load / (1 - settings.headroom))
    cpus = math.ceil(needed / DEFAULT_LOAD_UNITS_PER_CPU)
    out.append(f"add a BBB server to region {region} with fleet_bbb_capacity >= {needed} "
               f"(or fleet_bbb_cpus >= {cpus} at the default {DEFAULT_LOAD_UNITS_PER_CPU} units per CPU)")
    return out
