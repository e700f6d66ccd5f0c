"""A year of tenant arrivals replayed against placement policies.

    .venv/bin/python benchmarks/simulate_placement.py [--seed 7] [--json]
    .venv/bin/python benchmarks/simulate_placement.py --report [--seeds 1000-1099] [--region ca]
        [--variant "growth"] [--workers 2] [--log results.jsonl] [--json]

--report: wins, losses and ties of most_spare and pack against every baseline and each
other, seed by seed, over seeds never used for tuning, on the trace as assumed and on
traces that break its assumptions (VARIANTS); the figures are in docs/testing.md.

The trace (seeded, deterministic): tenants join through the year, each with a plan, a
time zone in its region, a usage level (share of its plan's cap it reaches on its
biggest day), a habit (office hours, evenings, school mornings), a weekly rhythm (one
big day, quieter other days, near-empty weekends) and holiday weeks. Load is in the
exporter's load unit (meetfleet.capacity.load), in 30-minute slots.

Policies, all placing in the tenant's region:
  most_spare    meetfleet.placement.place itself under its default policy (the server
                with the most spare left once placed), fed what Prometheus would hold:
                each server's peak per hour of the week over the window (28 days), each
                recent tenant's history per hour of the week;
  pack          the same under fleet_placement_policy: pack (the fullest server safe even
                at the plans' caps, else the most spare);
  round-robin   the next server in turn;
  least-load    Scalelite-like: least load at the moment of placement, per unit of capacity;
  b3lb-like     least attendees + 30 x meetings + a CPU term at the moment of placement;
  least-peak    history-aware: the least peak over the window (28 days) per unit of capacity.

For each: server-minutes over capacity, mean utilisation on a fixed fleet (the same
servers for every policy), and servers needed (the smallest fleet per region with no
minute over capacity during the year).

Refusals: on a fixed fleet every policy must name a server for every tenant (an
operator with no server to add still has to host the member somewhere), so the rule is
the same for all: each tenant goes where the policy itself ranks best. Our policies,
when nothing fits, says so (counted as a refusal) and its best-ranked server, the one
it expects to pass its capacity the least, takes the tenant. In the growing fleet a
refusal adds a server instead.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from meetfleet.capacity.load import users_to_load
from meetfleet.fleet import BbbServer, Fleet, Host, PlacementPolicy, Plan, Region, Tenant
from meetfleet.fleet.model import StaticSource
from meetfleet.placement import (
    Observations,
    PlacementSettings,
    ServerObservation,
    TenantObservation,
    place,
)
from meetfleet.placement.profile import HOURS_PER_WEEK
from meetfleet.placement.spare import DEFAULT_WINDOW_SECONDS

SLOT_MINUTES = 30
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY
WEEKS = 52
SLOT_SECONDS = SLOT_MINUTES * 60
SLOTS_PER_HOUR = 60 // SLOT_MINUTES
WINDOW_SLOTS = round(DEFAULT_WINDOW_SECONDS / SLOT_SECONDS)  # placement's default window
KEEP_WEEKS = WINDOW_SLOTS // SLOTS_PER_WEEK + 2  # what the window needs, and the week under way
# The trace has no daylight saving time: placement evaluates time zones in January
# (2024-01-01 00:00 UTC, a Monday, is the start of every simulated week).
JANUARY_MONDAY = 1704067200

PLANS = {
    "small": Plan(name="small", max_concurrent_users=50, max_rooms=5, max_meeting_minutes=120),
    "medium": Plan(name="medium", max_concurrent_users=200, max_rooms=20, max_meeting_minutes=240),
    "large": Plan(name="large", max_concurrent_users=600, max_rooms=50, max_meeting_minutes=480),
}
PLAN_MIX = (("small", 0.55), ("medium", 0.35), ("large", 0.10))
# Region -> (UTC offsets in hours with weights, operator's office offset, tenants per year)
REGIONS = {
    "eu": ([(0, 0.2), (1, 0.6), (2, 0.2)], 1, 150),
    "ca": ([(-3.5, 0.05), (-4, 0.1), (-5, 0.5), (-6, 0.1), (-7, 0.1), (-8, 0.15)], -5, 80),
}
# The inventory's time zones with those UTC offsets in January.
TIMEZONES = {0: "Europe/London", 1: "Europe/Berlin", 2: "Europe/Helsinki", -3.5: "America/St_Johns",
             -4: "America/Halifax", -5: "America/Toronto", -6: "America/Winnipeg", -7: "America/Edmonton",
             -8: "America/Vancouver"}
REGION_TIMEZONES = {"eu": "Europe/Berlin", "ca": "America/Toronto"}
HABITS = (("office", 0.65), ("evening", 0.2), ("school", 0.15))
HOLIDAY_WEEKS = {0, 30, 31, 32, 51}  # New Year, summer, Christmas: a third of the usual use
SERVER_CAPACITY = 1600  # 32 cores at 50 load units per core
USAGE_RANGE = (0.2, 0.9)


def _pick(rng: random.Random, weighted):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _day_shape(habit: str) -> list[float]:
    """Share of the day's peak in each local slot."""
    shape = [0.0] * SLOTS_PER_DAY
    hours = {"office": [(8, .3), (9, .7), (10, 1), (11, .9), (12, .4), (13, .6), (14, .9), (15, .8), (16, .5),
                        (17, .2)],
             "evening": [(17, .2), (18, .6), (19, 1), (20, .9), (21, .4)],
             "school": [(8, .8), (9, 1), (10, .9), (11, .8), (12, .3), (13, .5)],
             # hospitals, care homes, call centres: the night around midnight, local time
             "night": [(0, .9), (1, .8), (2, .7), (3, .5), (4, .4), (5, .6), (22, .6), (23, 1)]}[habit]
    per_hour = 60 // SLOT_MINUTES
    for hour, level in hours:
        for k in range(per_hour):
            shape[hour * per_hour + k] = level
    return shape


@dataclass
class TraceTenant:
    name: str
    region: str
    plan: str
    arrival_slot: int  # absolute slot of the year
    base: list[float]  # load units per slot of a normal week, UTC
    week_factor: list[float]  # per week of the year
    peak_users: float
    timezone: str  # where it really is
    declared: str = ""  # the time zone the inventory records for it (wrong in the "wrong time zones" trace)

    def __post_init__(self) -> None:
        self.declared = self.declared or self.timezone

    def week(self, w: int) -> list[float]:
        f = self.week_factor[w]
        return [x * f for x in self.base]


# Traces that break what the policy assumes. Each draws its perturbation from a random
# stream of its own, so the tenants, plans, habits and arrivals are those of the trace as
# assumed (same seed) and only the named aspect differs.
VARIANTS = {
    "as assumed": "the trace above: the load formula, at most 90 % of the cap, waking hours, stationary",
    "noise per user": "each tenant's load per user 0.75-1.35 x the formula, and +/- 15 % per slot",
    "above the cap": "use up to 115 % of the plan's cap (0.2-1.15 instead of 0.2-0.9)",
    "night shift": "15 % of tenants work nights (22:00-06:00 local, weekends too)",
    "growth": "each tenant's use grows over the year after it joins, by 0-100 % a year",
    "wrong time zones": "30 % of tenants are recorded in the inventory with another zone of their region",
}
ABOVE_CAP_RANGE = (0.2, 1.15)


def make_trace(seed: int, variant: str = "as assumed") -> list[TraceTenant]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown trace variant {variant!r} (known: {', '.join(VARIANTS)})")
    rng = random.Random(seed)
    perturb = random.Random(f"{seed}/{variant}")
    load_of = [users_to_load(u) for u in range(0, 800)]
    tenants = []
    for region, (zones, office_offset, count) in REGIONS.items():
        for i in range(count):
            plan = _pick(rng, PLAN_MIX)
            offset = _pick(rng, zones)
            habit = _pick(rng, HABITS)
            usage = rng.uniform(*USAGE_RANGE)
            if variant == "above the cap":  # the same order of tenants, stretched to 115 %
                low, high = USAGE_RANGE
                usage = ABOVE_CAP_RANGE[0] + (usage - low) * (ABOVE_CAP_RANGE[1] - ABOVE_CAP_RANGE[0]) / (high - low)
            night = variant == "night shift" and perturb.random() < 0.15
            peak_users = PLANS[plan].max_concurrent_users * usage
            big_day = rng.randrange(5)
            day_level = [1.0 if d == big_day else rng.uniform(0.3, 0.7) for d in range(5)] + \
                [rng.uniform(0.0, 0.1), rng.uniform(0.0, 0.05)]
            if habit == "evening":
                day_level[5] = rng.uniform(0.2, 0.5)  # associations also meet on Saturdays
            shape = _day_shape(habit)
            if night:
                shape = _day_shape("night")
                day_level[5], day_level[6] = perturb.uniform(0.5, 0.9), perturb.uniform(0.5, 0.9)
            local = [round(peak_users * day_level[d] * shape[s]) for d in range(7) for s in range(SLOTS_PER_DAY)]
            shift = round(-offset * 60 / SLOT_MINUTES)  # local -> UTC
            base = [float(load_of[local[(k - shift) % SLOTS_PER_WEEK]]) if local[(k - shift) % SLOTS_PER_WEEK]
                    else 0.0 for k in range(SLOTS_PER_WEEK)]
            if variant == "noise per user":
                per_user = perturb.uniform(0.75, 1.35)
                base = [x * per_user * perturb.uniform(0.85, 1.15) for x in base]
            week_factor = [(1 / 3 if w in HOLIDAY_WEEKS else 1.0) * rng.uniform(0.8, 1.1) for w in range(WEEKS)]
            # Joins on a weekday in the operator's office hours, spread over the year.
            week = min(int(i * WEEKS / count + rng.random() * WEEKS / count), WEEKS - 1)
            hour = rng.uniform(9, 17) - office_offset
            slot = week * SLOTS_PER_WEEK + rng.randrange(5) * SLOTS_PER_DAY + round(hour * 60 / SLOT_MINUTES)
            if variant == "growth":
                rate = perturb.uniform(0.0, 1.0)
                week_factor = [f * (1 + rate * max(w - week, 0) / WEEKS) for w, f in enumerate(week_factor)]
            declared = TIMEZONES[offset]
            if variant == "wrong time zones" and perturb.random() < 0.3:
                declared = TIMEZONES[perturb.choice([z for z, _ in zones if z != offset])]
            tenants.append(TraceTenant(f"{region}-t{i:03d}", region, plan, slot, base, week_factor, peak_users,
                                       TIMEZONES[offset], declared))
    tenants.sort(key=lambda t: (t.arrival_slot, t.name))
    return tenants


# --- policies --------------------------------------------------------------------------


@dataclass
class SimServer:
    name: str
    region: str
    capacity: int
    history: list[list[float]] = field(default_factory=list)  # per week since the server exists
    first_week: int = 0
    tenants: list[TraceTenant] = field(default_factory=list)
    placed_at: dict[str, int] = field(default_factory=dict)
    hourly: dict[int, list[float]] = field(default_factory=dict)  # per closed week: peak per hour

    def profile_before(self, slot: int, slots: int) -> tuple[float, ...]:
        """Peak load per hour of the week over the `slots` before `slot` (what Prometheus holds).

        Hours the window does not cover (a server younger than a week) get the window's peak.
        """
        start = max(slot - slots, self.first_week * SLOTS_PER_WEEK)
        best = [-1.0] * HOURS_PER_WEEK
        pos = start
        while pos < slot:
            w, s = divmod(pos, SLOTS_PER_WEEK)
            end = min(SLOTS_PER_WEEK, s + (slot - pos))
            if s == 0 and end == SLOTS_PER_WEEK:  # a whole closed week: its hourly peaks, cached
                if w not in self.hourly:
                    vec = self.history[w - self.first_week]
                    self.hourly[w] = [max(vec[h * SLOTS_PER_HOUR:(h + 1) * SLOTS_PER_HOUR])
                                      for h in range(HOURS_PER_WEEK)]
                best = [max(a, b) for a, b in zip(best, self.hourly[w], strict=True)]
            else:
                vec = self.history[w - self.first_week]
                for k in range(s, end):
                    h = k // SLOTS_PER_HOUR
                    if vec[k] > best[h]:
                        best[h] = vec[k]
            pos += end - s
        top = max(max(best), 0.0)
        return tuple(top if x < 0 else x for x in best)

    def load_at(self, slot: int) -> float:
        w, s = divmod(slot, SLOTS_PER_WEEK)
        return self.history[w - self.first_week][s] if w >= self.first_week else 0.0


Policy = Callable[[TraceTenant, list[SimServer], int], "SimServer | None"]


class RoundRobin:
    def __init__(self) -> None:
        self.turn: dict[str, int] = {}

    def __call__(self, tenant: TraceTenant, servers: list[SimServer], slot: int) -> SimServer:
        i = self.turn.get(tenant.region, 0)
        self.turn[tenant.region] = i + 1
        return servers[i % len(servers)]


def least_load(tenant: TraceTenant, servers: list[SimServer], slot: int) -> SimServer:
    # Scalelite's load_multiplier set to weigh servers by capacity (its best setting here).
    return min(servers, key=lambda s: (s.load_at(slot - 1) / s.capacity, s.name))


def least_peak(tenant: TraceTenant, servers: list[SimServer], slot: int) -> SimServer:
    """History-aware: the least peak load over the window (28 days) per unit of capacity.

    What an operator does by hand with a Grafana panel of last month's peaks: no hours of
    the week, no plans, no recent tenants."""
    return min(servers, key=lambda s: (max(s.profile_before(slot, WINDOW_SLOTS)) / s.capacity, s.name))


LOAD_PER_USER = users_to_load(100) / 100


def b3lb_like(tenant: TraceTenant, servers: list[SimServer], slot: int) -> SimServer:
    def score(s: SimServer) -> tuple[float, str]:
        load = s.load_at(slot - 1)
        users = load / LOAD_PER_USER
        meetings = users / 10
        cpu = 100 * (load / s.capacity) ** 2  # a CPU term growing with utilisation
        return users + 30 * meetings + cpu, s.name

    return min(servers, key=score)


class Ours:
    """meetfleet.placement.place, fed what Prometheus would answer at that moment."""

    def __init__(self, policy: PlacementPolicy = PlacementPolicy.MOST_SPARE, settings: PlacementSettings | None = None,
                 window_slots: int = WINDOW_SLOTS) -> None:
        self.policy = policy
        self.settings = settings or PlacementSettings()
        self.window_slots = window_slots
        self.refusals = 0
        self.needed_slots = self.settings.history_needed(window_slots * SLOT_SECONDS) / SLOT_SECONDS

    def __call__(self, tenant: TraceTenant, servers: list[SimServer], slot: int) -> SimServer | None:
        hosts, tenants, tenant_obs = {}, {}, {}
        for s in servers:
            hosts[s.name] = Host(name=s.name, region=s.region, roles=frozenset({"bbb"}), source=StaticSource(),
                                 bbb=BbbServer(capacity=s.capacity, api_url=f"https://{s.name}/bigbluebutton/api"))
            for t in s.tenants:
                tenants[t.name] = Tenant(name=t.name, plan=t.plan, region=t.region, bbb_server=s.name,
                                         timezone=t.declared)
                age = min(slot - s.placed_at[t.name], self.window_slots)
                seconds = age * SLOT_SECONDS
                # Only recent tenants' own week matters; the others are in their server's peaks.
                profile = self._tenant_profile(t, slot, age) if age < self.needed_slots else (0.0,) * HOURS_PER_WEEK
                tenant_obs[t.name] = TenantObservation(peak_load=max(profile), profile=profile,
                                                       history_seconds=seconds, history_seconds_on={s.name: seconds})
        fleet = Fleet(regions={r: Region(name=r, timezone=REGION_TIMEZONES[r]) for r in REGIONS}, plans=PLANS,
                      hosts=hosts, tenants=tenants, placement_policy=self.policy)
        servers_seen = {}
        for s in servers:
            profile = s.profile_before(slot, self.window_slots)
            servers_seen[s.name] = ServerObservation(up=True, load_now=s.load_at(slot - 1), peak_load=max(profile),
                                                     profile=profile)
        observed = Observations(self.window_slots * SLOT_SECONDS, servers_seen, tenant_obs,
                                at=JANUARY_MONDAY + (slot % SLOTS_PER_WEEK) * SLOT_SECONDS)
        decision = place(fleet, observed, tenant.plan, tenant.region, self.settings, timezone=tenant.declared)
        by_name = {s.name: s for s in servers}
        if decision.chosen:
            return by_name[decision.chosen]
        self.refusals += 1
        self.fallback = by_name[max(decision.candidates, key=lambda c: (c.spare_after, c.server)).server]
        return None

    @staticmethod
    def _tenant_profile(t: TraceTenant, slot: int, age: int) -> tuple[float, ...]:
        """Its peak per hour of the week since it was placed (0 where it has no samples yet)."""
        best = [0.0] * HOURS_PER_WEEK
        for pos in range(slot - age, slot):
            w, s = divmod(pos, SLOTS_PER_WEEK)
            h = s // SLOTS_PER_HOUR
            best[h] = max(best[h], t.base[s] * t.week_factor[w])
        return tuple(best)


# --- the replay ------------------------------------------------------------------------


@dataclass
class Result:
    overload_minutes: int = 0
    utilisation_sum: float = 0.0
    utilisation_slots: int = 0
    servers: int = 0
    refusals: int = 0

    @property
    def mean_utilisation(self) -> float:
        return self.utilisation_sum / self.utilisation_slots if self.utilisation_slots else 0.0


def replay(trace: list[TraceTenant], region: str, policy: Policy, servers: int | None) -> Result:
    """Place the region's tenants with `policy` on `servers` servers (None: grow on refusal)."""
    arrivals = [t for t in trace if t.region == region]
    fleet: list[SimServer] = []

    def add_server(week: int) -> SimServer:
        server = SimServer(f"{region}-s{len(fleet):02d}", region, SERVER_CAPACITY, first_week=week)
        server.history = [[0.0] * SLOTS_PER_WEEK for _ in range(week - server.first_week + 1)]
        fleet.append(server)
        return server

    for _ in range(servers or 1):
        add_server(0)
    result = Result()
    i = 0
    for week in range(WEEKS):
        for s in fleet:
            if week > s.first_week or len(s.history) <= week - s.first_week:
                vec = [0.0] * SLOTS_PER_WEEK
                for t in s.tenants:
                    f = t.week_factor[week]
                    vec = [a + b * f for a, b in zip(vec, t.base, strict=True)]
                s.history.append(vec)
                if len(s.history) > KEEP_WEEKS:  # keep what the longest window needs
                    s.history[-KEEP_WEEKS - 1] = []
        while i < len(arrivals) and arrivals[i].arrival_slot // SLOTS_PER_WEEK == week:
            tenant = arrivals[i]
            i += 1
            slot = tenant.arrival_slot
            chosen = policy(tenant, fleet, slot)
            if chosen is None:  # grow, or on a fixed fleet take the server it would pass the least
                chosen = add_server(week) if servers is None else policy.fallback
            chosen.tenants.append(tenant)
            chosen.placed_at[tenant.name] = slot
            vec = chosen.history[week - chosen.first_week]
            f = tenant.week_factor[week]
            start = slot % SLOTS_PER_WEEK
            vec[start:] = [a + b * f for a, b in zip(vec[start:], tenant.base[start:], strict=True)]
        for s in fleet:
            vec = s.history[week - s.first_week]
            result.overload_minutes += SLOT_MINUTES * sum(1 for x in vec if x > s.capacity)
            result.utilisation_sum += sum(vec) / s.capacity
            result.utilisation_slots += SLOTS_PER_WEEK
    result.servers = len(fleet)
    result.refusals = getattr(policy, "refusals", 0)
    return result


OURS: dict[str, Callable[[], Ours]] = {
    "most_spare": lambda: Ours(PlacementPolicy.MOST_SPARE), "pack": lambda: Ours(PlacementPolicy.PACK),
}
POLICIES: dict[str, Callable[[], Policy]] = {
    **OURS, "round-robin": RoundRobin, "least-load": lambda: least_load, "b3lb-like": lambda: b3lb_like,
    "least-peak": lambda: least_peak,
}
BASELINES = tuple(name for name in POLICIES if name not in OURS)


def fixed_fleet_size(trace: list[TraceTenant], region: str) -> int:
    """A neutral fleet: every tenant at its plan's expected peak, at once, on usable capacity."""
    from meetfleet.placement import plan_expected_load

    total = sum(plan_expected_load(PLANS[t.plan]) for t in trace if t.region == region)
    return math.ceil(total / (SERVER_CAPACITY * 0.9))


def servers_needed(trace: list[TraceTenant], region: str, make: Callable[[], Policy],
                   high: int) -> tuple[int | None, Result | None]:
    """Smallest fleet with no minute over capacity (bisection; None when even `high` overloads).

    Overload is not strictly monotonic in fleet size for heuristic policies, so this is
    the size bisection settles on, checked to have no overload itself.
    """
    results: dict[int, Result] = {}

    def overloads(n: int) -> bool:
        results[n] = replay(trace, region, make(), n)
        return results[n].overload_minutes > 0

    if overloads(high):
        return None, None
    low = 1
    while low < high:
        mid = (low + high) // 2
        if overloads(mid):
            low = mid + 1
        else:
            high = mid
    return high, results[high]


FLEETS = {"neutral": 1.0, "tight": 0.6}  # share of the neutral fleet size


def run(seed: int) -> dict:
    started = time.perf_counter()
    trace = make_trace(seed)
    neutral = {r: fixed_fleet_size(trace, r) for r in REGIONS}
    fleets = {name: {r: max(1, int(n * share)) for r, n in neutral.items()} for name, share in FLEETS.items()}
    report: dict = {"seed": seed, "parameters": {
        "weeks": WEEKS, "slot_minutes": SLOT_MINUTES, "server_capacity": SERVER_CAPACITY,
        "tenants": {r: v[2] for r, v in REGIONS.items()}, "plan_mix": dict(PLAN_MIX), "habits": dict(HABITS),
        "usage_of_plan_cap": USAGE_RANGE, "holiday_weeks": sorted(HOLIDAY_WEEKS),
        "time_zones": {r: dict(v[0]) for r, v in REGIONS.items()},
    }, "fleets": fleets, "policies": {}}
    for name, make in POLICIES.items():
        row: dict = {"overload_minutes": {}, "refusals": {}, "servers_needed": {}, "mean_utilisation_at_needed": {}}
        for fleet_name, sizes in fleets.items():
            results = {r: replay(trace, r, make(), sizes[r]) for r in REGIONS}
            row["overload_minutes"][fleet_name] = {r: res.overload_minutes for r, res in results.items()}
            row["overload_minutes"][fleet_name]["total"] = sum(res.overload_minutes for res in results.values())
            row["refusals"][fleet_name] = sum(res.refusals for res in results.values())
        for region in REGIONS:
            size, result = servers_needed(trace, region, make, high=4 * neutral[region])
            row["servers_needed"][region] = size
            row["mean_utilisation_at_needed"][region] = round(result.mean_utilisation, 4) if result else None
        if name in OURS:
            grown = {r: replay(trace, r, OURS[name](), None) for r in REGIONS}
            row["grown_fleet"] = {r: {"servers": g.servers, "overload_minutes": g.overload_minutes,
                                      "mean_utilisation": round(g.mean_utilisation, 4)} for r, g in grown.items()}
        report["policies"][name] = row
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


# --- wins, losses and ties over many seeds ------------------------------------------------

# Seeds for the report: none of them was ever used to tune the policy (tuning used 1-30,
# 42 and 101, docs/placement.md). The test uses a handful of others (tests/placement/test_simulation.py).
REPORT_SEEDS = range(1000, 1100)


def overloads_of(seed: int, variant: str, fleet: str = "tight", regions: tuple[str, ...] = tuple(REGIONS),
                 policies: tuple[str, ...] = tuple(POLICIES)) -> dict[str, int]:
    """Server-minutes over capacity of each policy on one seed's trace, summed over `regions`."""
    trace = make_trace(seed, variant)
    # The fleet is sized from the trace as assumed, so a perturbation does not also resize it.
    sizing = make_trace(seed) if variant != "as assumed" else trace
    sizes = {r: max(1, int(fixed_fleet_size(sizing, r) * FLEETS[fleet])) for r in regions}
    return {name: sum(replay(trace, r, POLICIES[name](), sizes[r]).overload_minutes for r in regions)
            for name in policies}


def _one(job: tuple[int, str, str, tuple[str, ...]]) -> tuple[int, str, dict[str, int]]:
    seed, variant, fleet, regions = job
    return seed, variant, overloads_of(seed, variant, fleet, regions)


def collect(seeds, variants=tuple(VARIANTS), fleet: str = "tight", regions: tuple[str, ...] = tuple(REGIONS),
            workers: int = 1, log: Path | None = None) -> dict[str, dict[int, dict[str, int]]]:
    """{variant: {seed: {policy: overload minutes}}}, the same whatever `workers`.

    `log`: a JSON-lines file each result is appended to as it comes; results already in it
    (same seed, variant, fleet and regions) are reused, so an interrupted run resumes."""
    done: dict[tuple[int, str], dict[str, int]] = {}
    if log is not None and log.exists():
        for line in log.read_text().splitlines():
            row = json.loads(line)
            if row["fleet"] == fleet and tuple(row["regions"]) == tuple(regions):
                done[row["seed"], row["variant"]] = row["overload_minutes"]
    # Seed by seed, every variant of a seed together: a run stopped early covers its seeds fully.
    jobs = [(seed, variant, fleet, regions) for seed in seeds for variant in variants if (seed, variant) not in done]

    def keep(seed: int, variant: str, figures: dict[str, int]) -> None:
        done[seed, variant] = figures
        if log is not None:
            with log.open("a") as out:
                out.write(json.dumps({"seed": seed, "variant": variant, "fleet": fleet, "regions": list(regions),
                                      "overload_minutes": figures}) + "\n")

    if workers > 1 and jobs:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for seed, variant, figures in pool.imap_unordered(_one, jobs, chunksize=1):
                keep(seed, variant, figures)
    else:
        for job in jobs:
            keep(*_one(job))
    return {v: {seed: done[seed, v] for seed in seeds} for v in variants}


def tally(per_seed: dict[int, dict[str, int]], ours: str, other: str) -> dict[str, int]:
    """Seeds on which `ours` had fewer (win), more (loss) or as many (tie) minutes over capacity."""
    result = {"wins": 0, "losses": 0, "ties": 0}
    for figures in per_seed.values():
        a, b = figures[ours], figures[other]
        result["wins" if a < b else "losses" if a > b else "ties"] += 1
    return result


def summary(collected: dict[str, dict[int, dict[str, int]]]) -> dict:
    out = {}
    for variant, per_seed in collected.items():
        policies = list(next(iter(per_seed.values())))
        out[variant] = {
            "seeds": len(per_seed),
            "total_minutes": {p: sum(f[p] for f in per_seed.values()) for p in policies},
            "seeds_with_overload": {p: sum(1 for f in per_seed.values() if f[p] > 0) for p in policies},
            "against": {ours: {other: tally(per_seed, ours, other) for other in policies if other != ours}
                        for ours in OURS if ours in policies},
        }
    return out


def markdown(report: dict, seeds, fleet: str, regions: tuple[str, ...] = tuple(REGIONS)) -> str:
    seeds = list(seeds)
    where = "both regions" if set(regions) == set(REGIONS) else "region " + ", ".join(regions)
    lines = [f"Seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), the {fleet} fleet "
             f"({FLEETS[fleet]:.0%} of the neutral size, sized on the trace as assumed), {where}; "
             "server-minutes over capacity during the year. W / L / T: seeds on which the policy of the row had "
             "fewer / more / as many minutes over capacity as the column's.", ""]
    for variant, row in report.items():
        policies = list(row["total_minutes"])
        lines.append(f"**{variant}**: {VARIANTS[variant]}")
        lines.append("")
        lines.append("| | " + " | ".join(p for p in policies) + " |")
        lines.append("|---|" + "---:|" * len(policies))
        lines.append("| minutes over capacity, all seeds | " +
                     " | ".join(f"{row['total_minutes'][p]:,}" for p in policies) + " |")
        lines.append("| seeds with any | " + " | ".join(str(row["seeds_with_overload"][p]) for p in policies) + " |")
        for ours, against in row["against"].items():
            cells = [f"{t['wins']} / {t['losses']} / {t['ties']}" if p in against else "" for p, t in
                     ((p, against.get(p)) for p in policies)]
            lines.append(f"| {ours} W / L / T | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _needed(row: dict) -> str:
    sizes = row["servers_needed"].values()
    return "> 4x neutral" if None in sizes else str(sum(sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--report", action="store_true",
                        help="wins, losses and ties over --seeds for every trace variant (markdown, or --json)")
    parser.add_argument("--seeds", default=f"{REPORT_SEEDS.start}-{REPORT_SEEDS.stop - 1}", help="FIRST-LAST")
    parser.add_argument("--fleet", default="tight", choices=sorted(FLEETS))
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="default: every one")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--region", action="append", choices=list(REGIONS), help="default: both")
    parser.add_argument("--log", type=Path, help="JSON lines of results so far: reused, and appended to")
    args = parser.parse_args()
    if args.report:
        first, _, last = args.seeds.partition("-")
        seeds = range(int(first), int(last or first) + 1)
        started = time.perf_counter()
        regions = tuple(args.region or REGIONS)
        collected = collect(seeds, tuple(args.variant or VARIANTS), args.fleet, regions, args.workers, args.log)
        report = summary(collected)
        if args.json:
            print(json.dumps({"summary": report, "per_seed": collected}, indent=1))
        else:
            print(markdown(report, seeds, args.fleet, regions))
            print(f"\n({time.perf_counter() - started:.0f} s, {args.workers} worker(s))")
        return
    report = run(args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"seed {report['seed']}; servers of {SERVER_CAPACITY} load units; fleets {report['fleets']}; "
          f"{report['seconds']} s")
    regions = list(REGIONS)
    head = " ".join(f"{f + ' ' + r:>13}" for f in FLEETS for r in [*regions, "total"])
    print(f"{'server-minutes over capacity':<30}")
    print(f"{'policy':<12} {head} {'refusals':>9}")
    for name, row in report["policies"].items():
        cells = " ".join(f"{row['overload_minutes'][f][r]:>13}" for f in FLEETS for r in [*regions, "total"])
        print(f"{name:<12} {cells} {sum(row['refusals'].values()):>9}")
    print(f"\n{'policy':<12} {'servers needed':>15} {'mean utilisation there':>24}")
    for name, row in report["policies"].items():
        util = row["mean_utilisation_at_needed"]
        shown = ", ".join(f"{r} {u:.1%}" if u is not None else f"{r} -" for r, u in util.items())
        print(f"{name:<12} {_needed(row):>15} {shown:>24}")
    for name in OURS:
        grown = report["policies"][name]["grown_fleet"]
        print(f"\n{name}, adding a server whenever nothing fits: " + ", ".join(
            f"{r} {g['servers']} servers ({g['overload_minutes']} min over capacity, {g['mean_utilisation']:.1%} used)"
            for r, g in grown.items()))


if __name__ == "__main__":
    main()
