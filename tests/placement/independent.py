"""An hour-by-hour placement computed for the tests, apart from meetfleet.placement.

Nothing here imports the placement model: the expected weeks are rebuilt minute by
minute from the rule docs/placement.md states (office hours, evenings, Saturday
mornings in the tenant's local time, the waking week at the plan's cap), the free
capacity is summed hour by hour, and the decision ranks by the documented policy. Only
the load unit (meetfleet.capacity.load.users_to_load, how many units a number of users
is) and the fleet's records are shared with the code under test.

`fleets` builds, by construction, fleets whose servers are of the kinds a test asks
for: packable (the newcomer fits even with everyone recent at their caps), eligible but
not packable, too full by a margin at one hour, or excluded (cordoned, draining, other
region, down, unobserved). No example is filtered away.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from meetfleet.capacity.load import users_to_load
from meetfleet.fleet import BbbServer, Fleet, Host, PlacementPolicy, Plan, Region, ServerState, Tenant
from meetfleet.fleet.model import StaticSource
from meetfleet.placement import Observations, ServerObservation, TenantObservation

HOURS = 168
MINUTES_PER_WEEK = HOURS * 60
WEEK_SECONDS = 7 * 24 * 3600
WINDOW = 4 * WEEK_SECONDS  # placement's default window: 28 days
NEEDED = WINDOW / 2  # half the window of samples before a tenant's own week is trusted
FACTOR = 0.6  # a plan's expected peak: 60 % of its concurrent-user cap (docs/placement.md)

PLANS = {
    "small": Plan(name="small", max_concurrent_users=50, max_rooms=5, max_meeting_minutes=120),
    "medium": Plan(name="medium", max_concurrent_users=200, max_rooms=20, max_meeting_minutes=240),
    "large": Plan(name="large", max_concurrent_users=600, max_rooms=50, max_meeting_minutes=480),
}
REGION_TIMEZONES = {"eu": "Europe/Berlin", "ca": "America/Toronto"}
TIMEZONES = ("Europe/Berlin", "Europe/London", "America/Vancouver", "America/St_Johns", "Asia/Kolkata", "UTC",
             "Pacific/Auckland")
# A Monday in January and a Wednesday in July (daylight saving time in the north), noon UTC.
MOMENTS = (1704110400, 1720008000)

Week = list[float]


# --- expected weeks, minute by minute ------------------------------------------------------


def offset_minutes(timezone: str, at: float) -> int:
    offset = dt.datetime.fromtimestamp(at, dt.UTC).astimezone(ZoneInfo(timezone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


def share(local_minute: int, waking: bool) -> float:
    """Share of the peak at a local minute of the week (Monday 00:00 = 0)."""
    day, minute = divmod(local_minute % MINUTES_PER_WEEK, 24 * 60)
    hour = minute // 60
    weekday, saturday = day <= 4, day == 5
    if waking:
        return 1.0 if (weekday and 8 <= hour <= 21) or (saturday and 9 <= hour <= 12) else 0.0
    if weekday and 8 <= hour <= 17:
        return 1.0
    if (weekday and 18 <= hour <= 21) or (saturday and 9 <= hour <= 12):
        return 0.5
    return 0.0


@lru_cache(maxsize=64)
def _hour_shares(offset: int, waking: bool) -> tuple[float, ...]:
    """Per UTC hour of the week: the highest share any of its 60 minutes has locally."""
    return tuple(max(share(h * 60 + m + offset, waking) for m in range(60)) for h in range(HOURS))


def plan_week(peak: float, timezone: str, at: float, waking: bool) -> Week:
    return [peak * x for x in _hour_shares(offset_minutes(timezone, at), waking)]


def plan_load(plan: Plan, at_cap: bool) -> float:
    users = plan.max_concurrent_users if at_cap else round(plan.max_concurrent_users * FACTOR)
    return users_to_load(users)


@dataclass
class Placed:
    """A tenant already on a server, and what the source measured of it."""

    tenant: Tenant
    timezone: str
    seconds: float = 0.0  # history, any server
    seconds_here: float = 0.0  # history on its current server
    peak: float = 0.0
    profile: Week | None = None
    observed: bool = False


def expected_week(p: Placed, at: float, at_cap: bool) -> Week:
    """The docs' rule: plan until half a window of history, raised hour by hour to what it showed."""
    prior = plan_week(plan_load(PLANS[p.tenant.plan], at_cap), p.timezone, at, waking=at_cap)
    if not p.observed:
        return prior
    if p.seconds >= NEEDED:
        return list(p.profile) if p.profile is not None else [p.peak] * HOURS
    if p.profile is not None:
        return [max(a, b) for a, b in zip(prior, p.profile, strict=True)]
    top = max(prior)
    if p.peak > top > 0:
        return [x * p.peak / top for x in prior]
    if p.peak > top:
        return [p.peak] * HOURS
    return prior


def is_recent(p: Placed) -> bool:
    """Not yet in its server's observed peaks: less than half a window of samples there."""
    return not (p.observed and p.seconds_here >= NEEDED)


# --- the fleet and its observations ---------------------------------------------------------


@dataclass
class SimServer:
    name: str
    region: str
    capacity: int
    state: ServerState = ServerState.ACTIVE
    observed: bool = True
    up: bool = True
    week: Week | None = None  # observed peak per hour; None with a flat peak
    peak: float = 0.0
    tenants: list[Placed] = field(default_factory=list)
    kind: str = ""


@dataclass
class Case:
    servers: list[SimServer]
    plan: str
    region: str
    timezone: str  # the newcomer's
    given_timezone: str | None  # as passed to place (None: the region's)
    at: float
    headroom: float
    policy: PlacementPolicy

    def fleet(self) -> Fleet:
        hosts = {s.name: Host(name=s.name, region=s.region, roles=frozenset({"bbb"}), source=StaticSource(),
                              bbb=BbbServer(capacity=s.capacity, state=s.state,
                                            api_url=f"https://{s.name}/bigbluebutton/api"))
                 for s in self.servers}
        tenants = {p.tenant.name: p.tenant for s in self.servers for p in s.tenants}
        return Fleet(regions={r: Region(name=r, timezone=tz) for r, tz in REGION_TIMEZONES.items()}, plans=PLANS,
                     hosts=hosts, tenants=tenants, placement_policy=self.policy)

    def observations(self) -> Observations:
        servers = {s.name: ServerObservation(up=s.up, load_now=s.peak, peak_load=s.peak,
                                             profile=tuple(s.week) if s.week is not None else None)
                   for s in self.servers if s.observed}
        tenants = {}
        for s in self.servers:
            for p in s.tenants:
                if p.observed:
                    tenants[p.tenant.name] = TenantObservation(
                        peak_load=p.peak, profile=tuple(p.profile) if p.profile is not None else None,
                        history_seconds=p.seconds, history_seconds_on={s.name: p.seconds_here},
                        load_now_on={s.name: p.peak / 2})
        return Observations(WINDOW, servers, tenants, at=self.at)


# --- the decision, recomputed -----------------------------------------------------------------


@dataclass
class Verdict:
    server: str
    eligible: bool
    after: float  # spare at the tightest hour once placed
    packable: bool
    share: float


def recent_sum(s: SimServer, at: float, at_cap: bool) -> Week:
    total = [0.0] * HOURS
    for p in s.tenants:
        if is_recent(p):
            total = [a + b for a, b in zip(total, expected_week(p, at, at_cap), strict=True)]
    return total


def judge(case: Case) -> list[Verdict]:
    newcomer = plan_week(plan_load(PLANS[case.plan], False), case.timezone, case.at, waking=False)
    newcomer_cap = plan_week(plan_load(PLANS[case.plan], True), case.timezone, case.at, waking=True)
    verdicts = []
    for s in case.servers:
        usable = s.capacity * (1 - case.headroom)
        seen = s.week if s.week is not None else [s.peak] * HOURS
        if not s.observed:
            seen = [0.0] * HOURS
        free = [usable - o - r for o, r in zip(seen, recent_sum(s, case.at, False), strict=True)]
        after = min(f - n for f, n in zip(free, newcomer, strict=True))
        eligible = (s.observed and s.up and s.state == ServerState.ACTIVE and s.region == case.region
                    and after >= 0)
        free_cap = [usable - o - r for o, r in zip(seen, recent_sum(s, case.at, True), strict=True)]
        packable = eligible and all(f >= n for f, n in zip(free_cap, newcomer_cap, strict=True))
        verdicts.append(Verdict(s.name, eligible, after, packable, after / s.capacity))
    return verdicts


def ranking(verdicts: list[Verdict], policy: PlacementPolicy) -> list[Verdict]:
    """Eligible servers, best first, by the documented rule (ties: larger share left, then name)."""
    eligible = [v for v in verdicts if v.eligible]
    most_spare = sorted(eligible, key=lambda v: (-v.after, -v.share, v.server))
    if policy == PlacementPolicy.PACK:
        packable = sorted((v for v in eligible if v.packable), key=lambda v: (v.after, -v.share, v.server))
        return packable + [v for v in most_spare if not v.packable]
    return most_spare


# --- fleets built to order ------------------------------------------------------------------

KINDS = ("packable", "eligible", "too full", "cordoned", "draining", "other region", "down", "unobserved")


@st.composite
def placed_tenants(draw, server: str, region: str, at: float, start: int) -> list[Placed]:
    out = []
    for j in range(draw(st.integers(0, 3))):
        name = f"t{start + j}"
        plan = draw(st.sampled_from(sorted(PLANS)))
        timezone = draw(st.sampled_from(TIMEZONES))
        tenant = Tenant(name=name, plan=plan, region=region, bbb_server=server, timezone=timezone)
        how = draw(st.sampled_from(["plan only", "partial", "partial flat", "moved", "settled", "at the limit"]))
        p = Placed(tenant, timezone)
        if how != "plan only":
            p.observed = True
            levels = [draw(st.sampled_from([0.0, 20.0, 150.0, 400.0])) for _ in range(3)]
            p.profile = [levels[(h * 5) % 3] for h in range(HOURS)] if draw(st.booleans()) else None
            if how == "partial flat":
                p.profile = None
            p.peak = max(p.profile) if p.profile is not None else draw(st.sampled_from([10.0, 300.0, 900.0]))
            if how in ("partial", "partial flat"):
                p.seconds = p.seconds_here = draw(st.sampled_from([3600.0, NEEDED / 4, NEEDED - 1]))
            elif how == "moved":  # months of history, a few days on this server: still recent here
                p.seconds, p.seconds_here = WINDOW, draw(st.sampled_from([0.0, NEEDED / 4, NEEDED - 1]))
            elif how == "settled":
                p.seconds = p.seconds_here = draw(st.sampled_from([NEEDED + 1, WINDOW]))
            else:  # exactly half the window: trusted
                p.seconds = p.seconds_here = NEEDED
        out.append(p)
    return out


@st.composite
def cases(draw, min_packable: int = 0, min_eligible: int = 2) -> Case:
    """A placement request and a fleet with at least `min_eligible` eligible servers (of
    which at least `min_packable` packable), plus any mix of the other kinds."""
    at = draw(st.sampled_from(MOMENTS))
    region = draw(st.sampled_from(sorted(REGION_TIMEZONES)))
    plan = draw(st.sampled_from(sorted(PLANS)))
    given = draw(st.sampled_from([None, *TIMEZONES]))
    timezone = given or REGION_TIMEZONES[region]
    headroom = draw(st.sampled_from([0.0, 0.1, 0.25]))
    policy = draw(st.sampled_from(list(PlacementPolicy)))
    kinds = ["packable"] * min_packable + \
        [draw(st.sampled_from(["packable", "eligible"])) for _ in range(max(min_eligible - min_packable, 0))] + \
        draw(st.lists(st.sampled_from(KINDS), max_size=5))
    kinds = draw(st.permutations(kinds))
    newcomer = plan_week(plan_load(PLANS[plan], False), timezone, at, waking=False)
    newcomer_cap = plan_week(plan_load(PLANS[plan], True), timezone, at, waking=True)
    servers, count = [], 0
    for i, kind in enumerate(kinds):
        name = f"bbb-{i}.example.coop"
        s_region = region if kind != "other region" else next(r for r in REGION_TIMEZONES if r != region)
        s = SimServer(name, s_region, 1, kind=kind)
        s.tenants = draw(placed_tenants(name, s_region, at, count))
        count += len(s.tenants)
        s.state = {"cordoned": ServerState.CORDONED, "draining": ServerState.DRAINING}.get(kind, ServerState.ACTIVE)
        s.up = kind != "down"
        s.observed = kind != "unobserved"
        recent = recent_sum(s, at, False)
        recent_cap = recent_sum(s, at, True)
        need = [n + r for n, r in zip(newcomer, recent, strict=True)]
        need_cap = [n + r for n, r in zip(newcomer_cap, recent_cap, strict=True)]
        slack = draw(st.integers(0, 800))
        s.capacity = max(1, int((max(need_cap) + slack) / (1 - headroom)) + 1)
        usable = s.capacity * (1 - headroom)
        level = [draw(st.sampled_from([0.0, 0.3, 0.7, 0.95])) for _ in range(6)]  # never 1: no float boundary
        r = [level[(h * 7) % 6] for h in range(HOURS)]  # a repeating pattern of fill levels
        if kind in ("packable", "eligible", "cordoned", "draining", "other region", "down", "unobserved"):
            # safe to pack at every hour: room for the newcomer and the recent tenants at their caps
            week = [x * (usable - c) for x, c in zip(r, need_cap, strict=True)]
        else:
            week = [x * (usable - c) for x, c in zip(r, need, strict=True)]
        if kind == "eligible":
            # ... but at one hour, drawn among those where the caps ask for more than the
            # expected weeks (office hours, evenings, Saturday mornings, in the newcomer's or
            # a recent tenant's zone), only the expected load fits, not the caps.
            hot = draw(st.sampled_from([h for h in range(HOURS) if need_cap[h] - need[h] > 1.0]))
            u = draw(st.sampled_from([0.1, 0.5, 0.9]))  # a margin each side, not a float boundary
            week[hot] = usable - need[hot] - u * (need_cap[hot] - need[hot])
        elif kind == "too full":  # by 1 to 200 units at one hour the newcomer meets
            hot = draw(st.sampled_from([h for h in range(HOURS) if newcomer[h] > 0]))
            week[hot] = usable - need[hot] + draw(st.sampled_from([1.0, 10.0, 200.0]))
        if kind in ("packable", "cordoned", "draining", "other region", "down", "unobserved") and \
                draw(st.booleans()):
            s.week, s.peak = None, min(week)  # a flat peak: the tightest value at every hour
        else:
            s.week, s.peak = week, max(week)
        servers.append(s)
    return Case(servers, plan, region, timezone, given, at, headroom, policy)
