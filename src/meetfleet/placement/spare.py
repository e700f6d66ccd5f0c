"""Spare capacity of a BBB server, in load units, hour by hour of the week.

For each of the 168 hours of the week (profile.py):

    free[h] = capacity x (1 - headroom)
              - the server's observed peak load in hour h over the window
              - the expected load in hour h of each tenant placed there too recently
                to be in those peaks

and a newcomer fits when free[h] covers its own expected load at every hour. Spare is
the free load at the tightest hour.

A tenant is "in the peaks" of a server once its samples there cover half the window
(14 of the default 28 days: every hour of the week seen twice, so one odd week, a
holiday or a quiet start, does not pass for its usual load). Before that its expected
week is added in full. The same sum with those recent tenants at their plans' whole
caps (raised to what they have shown) is `free_at_caps`: what is left if the unknowns
turn out as big as they may. Placement packs newcomers only where that worst case still
fits (decide.py).

Without hour detail (the exporter's /metrics read directly, or a window shorter than a
week) the server's peak holds at every hour, which is the flat model; for a snapshot,
the part of a recent tenant's load already in the server's current load is not counted
twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import ge

from meetfleet.fleet import Fleet, Host, ServerState, Tenant
from meetfleet.placement.expected import (
    PEAK_CONCURRENCY_FACTOR,
    ExpectedLoad,
    has_history,
    plan_expected_load,
    tenant_expected_load,
)
from meetfleet.placement.observations import Observations
from meetfleet.placement.profile import (
    HOURS_PER_WEEK,
    Profile,
    flat,
    office_week,
    peak,
    waking_week,
)

DEFAULT_WINDOW_SECONDS = 28 * 24 * 3600  # four of every weekly rhythm, and past a 3-week holiday
DEFAULT_HEADROOM = 0.10
ZERO_WEEK = (0.0,) * HOURS_PER_WEEK


@dataclass(frozen=True)
class PlacementSettings:
    # Share of each server's capacity never planned for: bursts, estimation error.
    headroom: float = DEFAULT_HEADROOM
    # Share of the window a tenant's samples must cover before its measured week is trusted.
    min_history_fraction: float = 0.5
    peak_concurrency_factor: float = PEAK_CONCURRENCY_FACTOR

    def __post_init__(self) -> None:
        if not 0 <= self.headroom < 1:
            raise ValueError(f"headroom must be in [0, 1) (got {self.headroom})")
        if not 0 < self.min_history_fraction <= 1:
            raise ValueError(f"min_history_fraction must be in (0, 1] (got {self.min_history_fraction})")
        if not 0 < self.peak_concurrency_factor <= 1:
            raise ValueError(f"peak_concurrency_factor must be in (0, 1] (got {self.peak_concurrency_factor})")

    def history_needed(self, window_seconds: float) -> float:
        """Seconds of samples after which a tenant's own week replaces its plan (0: never)."""
        return self.min_history_fraction * window_seconds if window_seconds > 0 else 0.0


@dataclass(frozen=True)
class ServerSpare:
    server: str
    region: str
    state: ServerState
    capacity: int
    usable: float  # capacity minus headroom
    up: bool | None  # None: the source has no observation of it
    load_now: float | None
    observed_peak: float  # the highest load over the window
    recent_tenants: tuple[tuple[str, float], ...]  # (tenant, peak of the load it adds)
    tenants: int
    free: Profile  # usable minus observed and recent load, per hour of the week
    recent_load: float  # the peak of the recent tenants' load together
    hour_detail: bool  # the observed peaks are per hour of the week (not one flat peak)
    # Why the source's values for it were refused (NaN, infinite, negative); up is then None.
    refused: str = ""
    # free_at_caps, computed on first use (only candidates for packing need it).
    _at_caps: Callable[[], Profile] = field(default=lambda: (), repr=False, compare=False)

    @cached_property
    def free_at_caps(self) -> Profile:
        """`free` with the recent tenants at their plans' whole caps."""
        return self._at_caps() or self.free

    @property
    def spare(self) -> float:
        """Free load units at the tightest hour of the week."""
        return min(self.free)

    @property
    def committed(self) -> float:
        """Load expected at the tightest hour: observed plus recent tenants."""
        return self.usable - self.spare

    def after(self, load: Profile) -> tuple[float, int]:
        """Spare left at the tightest hour once `load` is added, and that hour."""
        left = [f - x for f, x in zip(self.free, load, strict=True)]
        spare = min(left)
        return spare, left.index(spare)

    def fits_at_caps(self, load_at_cap: Profile) -> bool:
        """A newcomer at its plan's whole cap fits even with recent tenants at theirs."""
        return all(map(ge, self.free_at_caps, load_at_cap))


class LoadModel:
    """Expected loads of a fleet's tenants under one set of observations and settings."""

    def __init__(self, fleet: Fleet, observations: Observations, settings: PlacementSettings):
        self.fleet = fleet
        self.observations = observations
        self.settings = settings
        self.needed_seconds = settings.history_needed(observations.window_seconds)
        self.plan_loads = {name: plan_expected_load(plan, settings.peak_concurrency_factor)
                           for name, plan in fleet.plans.items()}
        self.plan_caps = {name: plan_expected_load(plan, 1.0) for name, plan in fleet.plans.items()}
        self._weeks: dict[tuple[str, str, bool], Profile] = {}
        self._known_timezones: set[str] = set()
        self._expected: dict[tuple[str, bool], ExpectedLoad] = {}

    def timezone(self, tenant: Tenant | None = None, region: str | None = None) -> str:
        """The tenant's (or region's) time zone: known, since the inventory checked it at load."""
        if tenant is not None:
            return tenant.timezone or self.fleet.regions[tenant.region].timezone
        assert region is not None
        return self.fleet.regions[region].timezone

    def plan_week(self, plan: str, timezone: str, at_cap: bool = False) -> Profile:
        """A tenant of `plan`'s expected week before it has history, in `timezone`.

        `at_cap`: the same week at the plan's whole concurrent-user cap.
        """
        key = (plan, timezone, at_cap)
        if key not in self._weeks:
            if at_cap:
                self._weeks[key] = waking_week(self.plan_caps[plan], timezone, self.observations.at)
            else:
                self._weeks[key] = office_week(self.plan_loads[plan], timezone, self.observations.at)
        return self._weeks[key]

    def newcomer(self, plan: str, region: str, timezone: str | None = None,
                 at_cap: bool = False) -> ExpectedLoad:
        week = self.plan_week(plan, timezone or self.timezone(region=region), at_cap)
        return ExpectedLoad(peak(week), "plan", week)

    def tenant(self, tenant: Tenant, at_cap: bool = False) -> ExpectedLoad:
        key = (tenant.name, at_cap)
        if key not in self._expected:
            self._expected[key] = tenant_expected_load(self.plan_week(tenant.plan, self.timezone(tenant), at_cap),
                                                       self.observations.tenants.get(tenant.name), self.needed_seconds)
        return self._expected[key]

    def added_on_top_of_peak(self, tenant: Tenant, server: str, at_cap: bool = False) -> Profile | None:
        """What `tenant` adds to `server`'s observed peaks: None once its load is in them."""
        added = self._added(tenant, server, at_cap)
        return added[0] if added else None

    def _added(self, tenant: Tenant, server: str, at_cap: bool = False) -> tuple[Profile, float] | None:
        """added_on_top_of_peak and its peak."""
        observed = self.observations.tenants.get(tenant.name)
        seconds_here = observed.history_seconds_on.get(server, 0.0) if observed else 0.0
        if has_history(seconds_here, self.needed_seconds):
            return None
        expected = self.tenant(tenant, at_cap)
        if self.observations.is_snapshot and observed is not None and observed.load_now_on.get(server, 0.0):
            now = observed.load_now_on[server]  # already in load_now
            week = tuple([max(x - now, 0.0) for x in expected.hourly])
            top = peak(week)
            return (week, top) if top > 0 else None
        return (expected.hourly, expected.load) if expected.load > 0 else None

    def server_week(self, host: Host) -> tuple[Profile, bool]:
        """The server's observed peak per hour of the week, and whether it has hour detail."""
        seen = self.observations.servers.get(host.name)
        if seen is None:
            return flat(0.0), False
        if seen.profile is not None and not self.observations.is_snapshot \
                and len(seen.profile) == HOURS_PER_WEEK:
            return seen.profile, True
        return flat(seen.peak_load), False

    def server(self, host: Host, tenants: Iterable[Tenant]) -> ServerSpare:
        assert host.bbb is not None
        seen = self.observations.servers.get(host.name)
        tenants = list(tenants)
        # Fast path first: on a settled fleet almost every tenant is already in its server's peaks.
        needed = self.needed_seconds
        observed = self.observations.tenants
        recent, recent_tenants = [], []
        recent_week: Sequence[float] = ZERO_WEEK
        for t in tenants:
            seen_t = observed.get(t.name)
            if needed > 0 and seen_t is not None and seen_t.history_seconds_on.get(host.name, 0.0) >= needed:
                continue
            found = self._added(t, host.name)
            if found is not None:
                added, top = found
                recent.append((t.name, top))
                recent_tenants.append(t)
                recent_week = added if not recent_tenants[1:] else \
                    [a + b for a, b in zip(recent_week, added, strict=True)]
        usable = host.bbb.capacity * (1 - self.settings.headroom)
        observed_week, hour_detail = self.server_week(host)
        room = tuple([usable - o for o in observed_week]) if hour_detail else flat(usable - observed_week[0])
        free = tuple([r - w for r, w in zip(room, recent_week, strict=True)]) if recent else room

        def at_caps() -> Profile:
            total: Sequence[float] = ZERO_WEEK
            for t in recent_tenants:
                week = self.added_on_top_of_peak(t, host.name, at_cap=True) or ZERO_WEEK
                total = [a + b for a, b in zip(total, week, strict=True)]
            return tuple([r - w for r, w in zip(room, total, strict=True)])
        return ServerSpare(
            server=host.name, region=host.region, state=host.bbb.state,
            capacity=host.bbb.capacity, usable=usable,
            up=None if seen is None else seen.up,
            load_now=None if seen is None else seen.load_now,
            observed_peak=0.0 if seen is None else max(seen.peak_load, peak(observed_week) if hour_detail else 0.0),
            recent_tenants=tuple(recent), tenants=len(tenants), free=free,
            recent_load=peak(recent_week) if recent else 0.0, hour_detail=hour_detail,
            refused=self.observations.refused.get(host.name, ""),
            _at_caps=at_caps if recent else lambda: (),
        )


def tenants_by_server(fleet: Fleet) -> dict[str, list[Tenant]]:
    grouped: dict[str, list[Tenant]] = defaultdict(list)
    for tenant in fleet.tenants.values():
        if tenant.bbb_server is not None:
            grouped[tenant.bbb_server].append(tenant)
    return grouped


def server_spares(fleet: Fleet, observations: Observations,
                  settings: PlacementSettings | None = None) -> dict[str, ServerSpare]:
    """Spare capacity of every BBB server of the fleet, by name."""
    model = LoadModel(fleet, observations, settings or PlacementSettings())
    grouped = tenants_by_server(fleet)
    return {name: model.server(host, grouped.get(name, ()))
            for name, host in sorted(fleet.bbb_servers.items())}
