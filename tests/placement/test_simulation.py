"""The placement simulation: deterministic, and what it shows about the policies.

Each replay runs the real meetfleet.placement.place for our policy. What holds on every
seed tried is asserted; the issue's stronger claim (fewer overload minutes than every
other policy) does not hold on every seed yet and is recorded as a strict xfail, so it
turns into a failure to notice the day it starts to hold. See docs/placement.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import simulate_placement as sim

pytestmark = pytest.mark.slow
SEEDS = (7, 11, 23)


def overload(trace, make, share: float) -> int:
    return sum(sim.replay(trace, r, make(), max(1, int(sim.fixed_fleet_size(trace, r) * share))).overload_minutes
               for r in sim.REGIONS)


def test_trace_is_deterministic_and_realistic() -> None:
    a, b = sim.make_trace(7), sim.make_trace(7)
    assert [(t.name, t.arrival_slot, t.plan) for t in a] == [(t.name, t.arrival_slot, t.plan) for t in b]
    assert a[0].base == b[0].base
    assert len(a) == sum(v[2] for v in sim.REGIONS.values())
    # A Berlin office tenant is busy at 10:00 local (09:00 UTC) and idle at 03:00.
    office = next(t for t in a if t.region == "eu" and max(t.base[: sim.SLOTS_PER_DAY]) > 0)
    assert max(office.base) > 0
    assert sim.make_trace(8)[0].base != a[0].base


@pytest.mark.parametrize("seed", SEEDS)
def test_ours_overloads_less_than_round_robin(seed: int) -> None:
    trace = sim.make_trace(seed)
    for share in (1.0, 0.6):
        assert overload(trace, sim.Ours, share) < overload(trace, sim.RoundRobin, share)


def test_ours_grows_a_smaller_fleet_than_least_load_needs() -> None:
    trace = sim.make_trace(7)
    for region in sim.REGIONS:
        grown = sim.replay(trace, region, sim.Ours(), None).servers
        needed, _ = sim.servers_needed(trace, region, lambda: sim.least_load, 4 * sim.fixed_fleet_size(trace, region))
        assert needed is not None and grown < needed


@pytest.mark.xfail(strict=True, reason="not yet better than least-current-load on every seed and fleet; "
                                       "see docs/placement.md, 'What the simulation shows'")
def test_ours_overloads_less_than_every_other_policy_on_every_seed() -> None:
    for seed in SEEDS:
        trace = sim.make_trace(seed)
        for share in (1.0, 0.6):
            ours = overload(trace, sim.Ours, share)
            for make in (sim.RoundRobin, lambda: sim.least_load, lambda: sim.b3lb_like):
                assert ours < overload(trace, make, share)
