"""How long one placement takes on a large fleet: 200 BBB servers, 5,000 tenants.

    .venv/bin/python benchmarks/placement_bench.py [--servers 200] [--tenants 5000] [--repeat 50] [--json]

Times meetfleet.placement.place (spare capacity of every server per hour of the week,
exclusions, ranking, explanation) on observations held in memory, as a Prometheus
answer over a 28-day window would fill them: every server with its peak per hour of
the week, every tenant with history, 5% of tenants placed too recently to be in their
server's peaks (with their own partial week), tenants in several time zones. Also times
reading the same fleet's inventory from disk (load_inventory), which a `meetfleet place`
run pays once, for context, and building the Observations (which checks every value
is finite and not negative), once per read of the source.

Both policies are timed: most_spare (the default) and pack (which also sums the recent
tenants at their caps for every eligible server).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from meetfleet.fleet import BbbServer, Fleet, Host, PlacementPolicy, Plan, Region, ServerState, Tenant, load_inventory
from meetfleet.fleet.model import StaticSource
from meetfleet.placement import Observations, ServerObservation, TenantObservation, place
from meetfleet.placement.profile import HOURS_PER_WEEK

PLANS = {
    "small": Plan(name="small", max_concurrent_users=50, max_rooms=5, max_meeting_minutes=120),
    "medium": Plan(name="medium", max_concurrent_users=200, max_rooms=20, max_meeting_minutes=240),
    "large": Plan(name="large", max_concurrent_users=600, max_rooms=50, max_meeting_minutes=480),
}
WINDOW = 28 * 86400
TIMEZONES = {"eu": ("Europe/Berlin", "Europe/London", "Europe/Helsinki"),
             "ca": ("America/Toronto", "America/Vancouver", "America/Halifax"),
             "us": ("America/New_York", "America/Chicago", "America/Los_Angeles")}


def week(rng: random.Random, peak: float) -> tuple[float, ...]:
    """A busy weekday daytime, a quieter rest of the week."""
    return tuple(peak * (rng.uniform(0.6, 1.0) if h // 24 < 5 and 7 <= h % 24 < 17 else rng.uniform(0, 0.3))
                 for h in range(HOURS_PER_WEEK))


def build(servers: int, tenants: int, seed: int = 1) -> tuple[Fleet, Observations]:
    rng = random.Random(seed)
    regions = ("eu", "ca", "us")
    states = [ServerState.ACTIVE] * 17 + [ServerState.CORDONED, ServerState.DRAINING, ServerState.RETIRED]
    hosts = {}
    for i in range(servers):
        name = f"bbb-{i:03d}.example.coop"
        hosts[name] = Host(name=name, region=regions[i % 3], roles=frozenset({"bbb"}), source=StaticSource(),
                           bbb=BbbServer(capacity=rng.choice([800, 1600, 3200]), state=rng.choice(states),
                                         api_url=f"https://{name}/bigbluebutton/api"))
    open_hosts = [h for h in hosts.values() if h.bbb.state != ServerState.RETIRED]
    fleet_tenants, tenant_obs = {}, {}
    for j in range(tenants):
        host = rng.choice(open_hosts)
        name = f"tenant-{j:05d}"
        fleet_tenants[name] = Tenant(name=name, plan=rng.choice(list(PLANS)), region=host.region,
                                     bbb_server=host.name, timezone=rng.choice(TIMEZONES[host.region]))
        recent = rng.random() < 0.05
        seconds = rng.uniform(0, 0.25) * WINDOW if recent else WINDOW
        peak = rng.uniform(5, 400)
        tenant_obs[name] = TenantObservation(peak_load=peak, profile=week(rng, peak) if recent else None,
                                             history_seconds=seconds, history_seconds_on={host.name: seconds})
    fleet = Fleet(regions={r: Region(name=r, timezone=TIMEZONES[r][0]) for r in regions}, plans=PLANS, hosts=hosts,
                  tenants=fleet_tenants)
    servers_obs = {}
    for name, h in hosts.items():
        profile = week(rng, rng.uniform(0, h.bbb.capacity))
        servers_obs[name] = ServerObservation(up=rng.random() > 0.02, load_now=profile[10], peak_load=max(profile),
                                              profile=profile)
    return fleet, Observations(WINDOW, servers_obs, tenant_obs, at=1704067200.0)


def write_inventory(fleet: Fleet, root: Path) -> Path:
    """The same fleet as an inventory directory (for timing load_inventory)."""
    (root / "group_vars" / "all").mkdir(parents=True)
    (root / "host_vars").mkdir()
    hosts = "\n".join(f"        {name}:" for name in fleet.hosts)
    (root / "hosts.yml").write_text(f"all:\n  children:\n    bbb:\n      hosts:\n{hosts}\n")
    for name, host in fleet.hosts.items():
        (root / "host_vars" / f"{name}.yml").write_text(
            f"fleet_region: {host.region}\nfleet_provider: static\nfleet_bbb_capacity: {host.bbb.capacity}\n"
            f"fleet_bbb_state: {host.bbb.state.value}\n")
    regions = "".join(f"  {r}:\n    timezone: {TIMEZONES[r][0]}\n" for r in fleet.regions)
    plans = "".join(f"  {p.name}:\n    max_concurrent_users: {p.max_concurrent_users}\n    max_rooms: {p.max_rooms}\n"
                    f"    max_meeting_minutes: {p.max_meeting_minutes}\n" for p in fleet.plans.values())
    (root / "group_vars" / "all" / "fleet.yml").write_text(f"fleet_regions:\n{regions}fleet_plans:\n{plans}")
    tenants = "".join(f"  {t.name}:\n    plan: {t.plan}\n    region: {t.region}\n    bbb_server: {t.bbb_server}\n"
                      for t in fleet.tenants.values())
    (root / "group_vars" / "all" / "tenants.yml").write_text(f"fleet_tenants:\n{tenants}")
    return root


def measure(servers: int, tenants: int, repeat: int) -> dict:
    fleet, observed = build(servers, tenants)
    place_ms = {}
    for policy in PlacementPolicy:
        timings = []
        for i in range(repeat):
            plan = ("small", "medium", "large")[i % 3]
            started = time.perf_counter()
            decision = place(fleet, observed, plan, "eu", policy=policy)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(decision.candidates) == servers
        timings.sort()
        place_ms[policy.value] = {"median": round(statistics.median(timings), 2),
                                  "p95": round(timings[int(0.95 * (len(timings) - 1))], 2),
                                  "max": round(timings[-1], 2)}
    started = time.perf_counter()
    Observations(observed.window_seconds, observed.servers, observed.tenants, at=observed.at)
    check_ms = (time.perf_counter() - started) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        inventory = write_inventory(fleet, Path(tmp) / "inv")
        started = time.perf_counter()
        loaded = load_inventory(inventory)
        load_ms = (time.perf_counter() - started) * 1000
        assert len(loaded.tenants) == tenants
    return {"servers": servers, "tenants": tenants, "repeat": repeat, "place_ms": place_ms,
            "observations_ms": round(check_ms, 2), "load_inventory_ms": round(load_ms, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.servers, args.tenants, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for policy, p in result["place_ms"].items():
        print(f"place() ({policy}) over {result['servers']} servers and {result['tenants']} tenants, "
              f"{result['repeat']} runs: median {p['median']} ms, p95 {p['p95']} ms, max {p['max']} ms")
    print(f"Observations of the same fleet (every value checked): {result['observations_ms']} ms")
    print(f"load_inventory of the same fleet from disk: {result['load_inventory_ms']} ms")


if __name__ == "__main__":
    main()
