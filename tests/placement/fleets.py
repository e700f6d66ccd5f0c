"""Small in-memory fleets whose right placement answer is known by construction."""

from __future__ import annotations

from collections.abc import Iterable

from meetfleet.fleet import BbbServer, Fleet, Host, PlacementPolicy, Plan, Region, ServerState, Tenant
from meetfleet.fleet.model import StaticSource
from meetfleet.placement import Observations, ServerObservation, TenantObservation

PLANS = {
    "small": Plan(name="small", max_concurrent_users=50, max_rooms=5, max_meeting_minutes=120),
    "medium": Plan(name="medium", max_concurrent_users=200, max_rooms=20, max_meeting_minutes=240),
    "large": Plan(name="large", max_concurrent_users=600, max_rooms=50, max_meeting_minutes=480),
}
WEEK = 7 * 24 * 3600
WINDOW = 2 * WEEK


def server(name: str, capacity: int = 1000, region: str = "eu",
           state: ServerState = ServerState.ACTIVE) -> Host:
    return Host(name=name, region=region, roles=frozenset({"bbb"}), source=StaticSource(),
                bbb=BbbServer(capacity=capacity, state=state, api_url=f"https://{name}/bigbluebutton/api"))


def tenant(name: str, on: str | None, plan: str = "small", region: str = "eu") -> Tenant:
    return Tenant(name=name, plan=plan, region=region, bbb_server=on)


def fleet(servers: Iterable[Host], tenants: Iterable[Tenant] = (),
          policy: PlacementPolicy = PlacementPolicy.MOST_SPARE) -> Fleet:
    return Fleet(regions={"eu": Region(name="eu"), "ca": Region(name="ca")}, plans=PLANS,
                 hosts={h.name: h for h in servers}, tenants={t.name: t for t in tenants}, placement_policy=policy)


def observe(peaks: dict[str, float], down: Iterable[str] = (),
            tenants: dict[str, TenantObservation] | None = None, window: float = WINDOW) -> Observations:
    down = set(down)
    return Observations(window, {name: ServerObservation(up=name not in down, load_now=peak, peak_load=peak)
                                 for name, peak in peaks.items()}, tenants or {})


def history(peak: float, seconds: float, on: str) -> TenantObservation:
    return TenantObservation(peak_load=peak, history_seconds=seconds, history_seconds_on={on: seconds})
