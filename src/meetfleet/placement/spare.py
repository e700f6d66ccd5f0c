"""Spare capacity of a BBB server, in load units, hour by hour of the week.

For each of the 168 hours of the week (profile.py):

    free[h] = capacity x (1 - headroom)
              - the server's observed peak load in hour h over the window
              - the expected load in hour h of each tenant placed there too recently
                to be in those peaks

and a newcomer fits when free[h] covers its own expected load at every hour. Spare is
the free load at the tightest hour. A tenant is "in the peaks" of a server once its
samples there cover a full week (every hour of the week seen once; half the window if
the window is shorter than two weeks). Before that its expected week is added in full.

Without hour detail (the exporter's /metrics read directly, or a window shorter than a
week) the server's peak holds at every hour, which is the flat model; for a snapshot,
the part of a recent tenant's load already in the server's current load is not counted
twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from meetfleet.fleet import Fleet, Host, InventoryError, ServerState, Tenant
from meetfleet.fleet.errors import Problem
from meetfleet.placement.expected import (
    PEAK_CONCURRENCY_FACTOR,
    ExpectedLoad,
    has_history,
    plan_expected_load,
    tenant_expected_load,
)
from meetfleet.placement.observations import Observations
from meetfleet.placement.profile import HOURS_PER_WEEK, Profile, flat, office_week, peak, utc_offset_minutes

WEEK_SECONDS = 7 * 24 * 3600
DEFAULT_WINDOW_SECONDS = 28 * 24 * 3600  # four of every weekly rhythm, and past a 3-week holiday
DEFAULT_HEADROOM = 0.10


@dataclass(frozen=True)
class PlacementSettings:
    # Share of each server's capacity never planned for: bursts, estimation error.
    headroom: float = DEFAULT_HEADROOM
    # Share of the window a tenant's samples must cover before its measured week is
    # trusted, at most a week (every hour of the week seen once).
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
        return min(WEEK_SECONDS, self.min_history_fraction * window_seconds) if window_seconds > 0 else 0.0


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


class LoadModel:
    """Expected loads of a fleet's tenants under one set of observations and settings."""

    def __init__(self, fleet: Fleet, observations: Observations, settings: PlacementSettings):
        self.fleet = fleet
        self.observations = observations
        self.settings = settings
        self.needed_seconds = settings.history_needed(observations.window_seconds)
        self.plan_loads = {name: plan_expected_load(plan, settings.peak_concurrency_factor)
                           for name, plan in fleet.plans.items()}
        self._weeks: dict[tuple[str, str], Profile] = {}

    def timezone(self, tenant: Tenant | None = None, region: str | None = None) -> str:
        """The tenant's (or region's) time zone; InventoryError when it is not a known one."""
        if tenant is not None:
            timezone = self.fleet.tenant_timezone(tenant)
            key = f"fleet_tenants.{tenant.name}.timezone" if tenant.timezone else \
                f"fleet_regions.{tenant.region}.timezone"
        else:
            assert region is not None
            timezone, key = self.fleet.regions[region].timezone, f"fleet_regions.{region}.timezone"
        try:
            utc_offset_minutes(timezone, self.observations.at)
        except KeyError:
            raise InventoryError([Problem(None, key, f"{timezone!r} is not a known time zone "
                                                     "(an IANA name such as Europe/Berlin)")]) from None
        return timezone

    def plan_week(self, plan: str, timezone: str) -> Profile:
        """A tenant of `plan`'s expected week before it has history, in `timezone`."""
        key = (plan, timezone)
        if key not in self._weeks:
            self._weeks[key] = office_week(self.plan_loads[plan], timezone, self.observations.at)
        return self._weeks[key]

    def newcomer(self, plan: str, region: str, timezone: str | None = None) -> ExpectedLoad:
        week = self.plan_week(plan, timezone or self.timezone(region=region))
        return ExpectedLoad(peak(week), "plan", week)

    def tenant(self, tenant: Tenant) -> ExpectedLoad:
        return tenant_expected_load(self.plan_week(tenant.plan, self.timezone(tenant)),
                                    self.observations.tenants.get(tenant.name), self.needed_seconds)

    def added_on_top_of_peak(self, tenant: Tenant, server: str) -> Profile | None:
        """What `tenant` adds to `server`'s observed peaks: None once its load is in them."""
        observed = self.observations.tenants.get(tenant.name)
        seconds_here = observed.history_seconds_on.get(server, 0.0) if observed else 0.0
        if has_history(seconds_here, self.needed_seconds):
            return None
        week = self.tenant(tenant).hourly
        if self.observations.is_snapshot and observed is not None:
            now = observed.load_now_on.get(server, 0.0)  # already in load_now
            week = tuple(max(x - now, 0.0) for x in week)
        return week if peak(week) > 0 else None

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
        recent, weeks = [], []
        for t in tenants:
            seen_t = observed.get(t.name)
            if needed > 0 and seen_t is not None and seen_t.history_seconds_on.get(host.name, 0.0) >= needed:
                continue
            added = self.added_on_top_of_peak(t, host.name)
            if added is not None:
                recent.append((t.name, peak(added)))
                weeks.append(added)
        usable = host.bbb.capacity * (1 - self.settings.headroom)
        observed_week, hour_detail = self.server_week(host)
        recent_week = [0.0] * HOURS_PER_WEEK
        for week in weeks:
            recent_week = [a + b for a, b in zip(recent_week, week, strict=True)]
        free = tuple(usable - o - r for o, r in zip(observed_week, recent_week, strict=True))
        return ServerSpare(
            server=host.name, region=host.region, state=host.bbb.state,
            capacity=host.bbb.capacity, usable=usable,
            up=None if seen is None else seen.up,
            load_now=None if seen is None else seen.load_now,
            observed_peak=0.0 if seen is None else max(seen.peak_load, peak(observed_week)),
            recent_tenants=tuple(recent), tenants=len(tenants), free=free,
            recent_load=peak(recent_week), hour_detail=hour_detail,
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
