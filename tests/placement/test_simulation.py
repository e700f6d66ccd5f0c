"""The placement simulation: deterministic, and what it shows about the policies.

Each replay runs the real meetfleet.placement.place under each of its policies:
most_spare (the default) and pack (fleet_placement_policy: pack). On five seeds fixed in
advance (not picked from a sweep), on the neutral and the tight fleet:
* pack has fewer server-minutes over capacity than every baseline; where a baseline has
  no minute over capacity either, pack has none too (nothing is fewer than zero);
* most_spare has fewer than round-robin over both fleets, but not fewer than least-load
  everywhere (seed 11, and seed 42's neutral fleet): that is asserted as it is;
* pack overloads less than most_spare over the five seeds, on each fleet.
docs/placement.md has the figures of each seed, and a wider sweep.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import simulate_placement as sim

pytestmark = pytest.mark.slow
SEEDS = (7, 11, 23, 42, 101)
OTHERS = ("round-robin", "least-load", "b3lb-like")
assert set(sim.POLICIES) == {*sim.OURS, *OTHERS}  # every policy the script reports is judged here


@cache
def overloads(seed: int) -> dict[str, dict[str, int]]:
    """Server-minutes over capacity per policy and fleet (neutral, tight) for one seed."""
    trace = sim.make_trace(seed)
    sizes = {name: {r: max(1, int(sim.fixed_fleet_size(trace, r) * share)) for r in sim.REGIONS}
             for name, share in sim.FLEETS.items()}
    return {policy: {fleet: sum(sim.replay(trace, r, make(), sizes[fleet][r]).overload_minutes for r in sim.REGIONS)
                     for fleet in sim.FLEETS}
            for policy, make in sim.POLICIES.items()}


def test_trace_is_deterministic_and_realistic() -> None:
    a, b = sim.make_trace(7), sim.make_trace(7)
    assert [(t.name, t.arrival_slot, t.plan, t.timezone) for t in a] == \
        [(t.name, t.arrival_slot, t.plan, t.timezone) for t in b]
    assert a[0].base == b[0].base
    assert len(a) == sum(v[2] for v in sim.REGIONS.values())
    office = next(t for t in a if t.region == "eu" and max(t.base[: sim.SLOTS_PER_DAY]) > 0)
    assert max(office.base) > 0
    assert sim.make_trace(8)[0].base != a[0].base


def test_the_replay_is_deterministic() -> None:
    trace = sim.make_trace(7)
    first = sim.replay(trace, "ca", sim.Ours(), 9)
    again = sim.replay(trace, "ca", sim.OURS["most_spare"](), 9)
    assert (first.overload_minutes, first.refusals, first.utilisation_sum) == \
        (again.overload_minutes, again.refusals, again.utilisation_sum)


@pytest.mark.parametrize("seed", SEEDS)
def test_pack_overloads_less_than_every_baseline(seed: int) -> None:
    figures = overloads(seed)
    ours = figures["pack"]
    for policy in OTHERS:
        for fleet in sim.FLEETS:
            other = figures[policy][fleet]
            assert ours[fleet] <= other, f"seed {seed}, {fleet} fleet: ours {ours[fleet]} > {policy} {other}"
            assert ours[fleet] < other or other == 0, \
                f"seed {seed}, {fleet} fleet: ours {ours[fleet]} not fewer than {policy} {other}"
        # Over both fleets, strictly fewer: every other policy overloads somewhere.
        assert sum(ours.values()) < sum(figures[policy].values()), (seed, policy, figures)


@pytest.mark.parametrize("seed", SEEDS)
def test_most_spare_overloads_less_than_round_robin_but_not_always_less_than_least_load(seed: int) -> None:
    figures = overloads(seed)
    most_spare, least_load = figures["most_spare"], figures["least-load"]
    assert sum(most_spare.values()) < sum(figures["round-robin"].values()), (seed, figures)
    # Spreading evenly loses to least-load's choices on these seed and fleets, and only there.
    behind = {(seed, fleet) for fleet in sim.FLEETS if most_spare[fleet] > least_load[fleet]}
    assert behind == {(11, "neutral"), (11, "tight"), (42, "neutral")} & {(seed, f) for f in sim.FLEETS}, figures


def test_pack_overloads_less_than_most_spare_over_the_five_seeds() -> None:
    for fleet in sim.FLEETS:
        pack = sum(overloads(seed)["pack"][fleet] for seed in SEEDS)
        most_spare = sum(overloads(seed)["most_spare"][fleet] for seed in SEEDS)
        assert pack < most_spare, (fleet, pack, most_spare)
    # But not on every fleet of every seed: seed 7's tight fleet has 0 under most_spare, 90 under pack.
    assert (overloads(7)["most_spare"]["tight"], overloads(7)["pack"]["tight"]) == (0, 90)


def test_pack_grows_a_smaller_fleet_than_least_load_needs_and_overloads_it_less() -> None:
    # Growing: a server is added whenever pack finds nothing that fits. The fleet it ends
    # with is smaller than the one least-load needs for no minute over capacity, and on
    # that same number of servers least-load overloads more than pack did.
    trace = sim.make_trace(7)
    for region in sim.REGIONS:
        grown = sim.replay(trace, region, sim.OURS["pack"](), None)
        needed, _ = sim.servers_needed(trace, region, lambda: sim.least_load, 4 * sim.fixed_fleet_size(trace, region))
        assert needed is not None and grown.servers < needed
        same_size = sim.replay(trace, region, sim.least_load, grown.servers)
        assert grown.overload_minutes < same_size.overload_minutes
