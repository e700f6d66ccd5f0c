"""The placement simulation: its traces do what they say, and its report counts right.

The figures themselves (wins, losses and ties of most_spare and pack against each
baseline over 100 seeds never used for tuning, on the trace as assumed and on five that
break its assumptions) are a script run, `benchmarks/simulate_placement.py --report`,
whose output is in docs/testing.md; nothing here asserts who wins on a given seed.
The fast tests check the traces and the tally; the slow one replays a handful of seeds
of their own (neither tuning nor report seeds) and checks the report's properties.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import simulate_placement as sim

TUNING_SEEDS = {*range(1, 31), 42, 101}  # the seeds docs/placement.md says the policy was shaped on
TEST_SEEDS = (2001, 2002, 2003)
SEED = 2001


def local_hour(tenant: sim.TraceTenant, utc_slot: int) -> int:
    offset = next(o for o, zone in sim.TIMEZONES.items() if zone == tenant.timezone)
    return int((utc_slot / sim.SLOTS_PER_HOUR + offset) % 24)


def identity(trace: list[sim.TraceTenant]) -> list[tuple]:
    return [(t.name, t.region, t.plan, t.arrival_slot, t.timezone) for t in trace]


def test_report_and_test_seeds_were_never_used_for_tuning() -> None:
    assert not TUNING_SEEDS & set(sim.REPORT_SEEDS)
    assert not TUNING_SEEDS & set(TEST_SEEDS)
    assert not set(sim.REPORT_SEEDS) & set(TEST_SEEDS)
    assert len(sim.REPORT_SEEDS) == 100


def test_every_variant_keeps_the_tenants_and_changes_only_its_own_aspect() -> None:
    assumed = sim.make_trace(SEED)
    assert identity(assumed) == identity(sim.make_trace(SEED, "as assumed"))
    assert [t.base for t in assumed] == [t.base for t in sim.make_trace(SEED)]  # deterministic
    assert [t.base for t in sim.make_trace(SEED + 1)] != [t.base for t in assumed]
    for variant in sim.VARIANTS:
        trace = sim.make_trace(SEED, variant)
        assert identity(trace) == identity(assumed), variant
        changed = {
            "base": sum(a.base != b.base for a, b in zip(assumed, trace, strict=True)),
            "weeks": sum(a.week_factor != b.week_factor for a, b in zip(assumed, trace, strict=True)),
            "declared": sum(t.declared != t.timezone for t in trace),
        }
        expected = {"as assumed": set(), "noise per user": {"base"}, "above the cap": {"base"},
                    "night shift": {"base"}, "growth": {"weeks"}, "wrong time zones": {"declared"}}[variant]
        assert {k for k, n in changed.items() if n} == expected, (variant, changed)
    with pytest.raises(ValueError, match="unknown trace variant"):
        sim.make_trace(SEED, "sunny")


def test_the_trace_as_assumed_keeps_the_assumptions_the_others_break() -> None:
    assumed = sim.make_trace(SEED)
    cap = {t.name: sim.PLANS[t.plan].max_concurrent_users for t in assumed}
    assert max(t.peak_users / cap[t.name] for t in assumed) <= sim.USAGE_RANGE[1]
    above = sim.make_trace(SEED, "above the cap")
    over = [t for t in above if t.peak_users > cap[t.name]]
    assert over and max(t.peak_users / cap[t.name] for t in above) <= sim.ABOVE_CAP_RANGE[1]

    def at_night(trace: list[sim.TraceTenant]) -> set[str]:  # load between 01:00 and 05:00 local
        return {t.name for t in trace if any(x > 0 and 1 <= local_hour(t, k) < 5 for k, x in enumerate(t.base))}
    assert not at_night(assumed)
    night = at_night(sim.make_trace(SEED, "night shift"))
    assert 0.05 * len(assumed) < len(night) < 0.3 * len(assumed)

    grown = sim.make_trace(SEED, "growth")
    ratios = [g.week_factor[-1] / a.week_factor[-1] for a, g in zip(assumed, grown, strict=True)]
    assert min(ratios) >= 1 and max(ratios) > 1.3
    for a, g in zip(assumed, grown, strict=True):  # no growth before it joins
        joined = a.arrival_slot // sim.SLOTS_PER_WEEK
        assert g.week_factor[:joined + 1] == a.week_factor[:joined + 1]

    wrong = [t for t in sim.make_trace(SEED, "wrong time zones") if t.declared != t.timezone]
    assert 0.15 * len(assumed) < len(wrong) < 0.45 * len(assumed)
    for t in wrong:  # another zone of its own region
        zones = {sim.TIMEZONES[o] for o, _ in sim.REGIONS[t.region][0]}
        assert t.declared in zones


def test_least_peak_takes_the_server_with_the_lowest_peak_per_unit_of_capacity() -> None:
    def server(name: str, capacity: int, busy: float, quiet: float) -> sim.SimServer:
        s = sim.SimServer(name, "eu", capacity)
        week = [quiet] * sim.SLOTS_PER_WEEK
        week[10] = busy  # one busy slot, long ago in the window
        s.history = [week, [quiet] * sim.SLOTS_PER_WEEK]
        return s
    # a: busy once (800 of 1600), quiet now; b: never busy, but fuller now; c: bigger, same peak as a.
    a, b, c = server("a", 1600, 800, 10), server("b", 1600, 500, 400), server("c", 3200, 800, 10)
    slot = 2 * sim.SLOTS_PER_WEEK - 1
    assert sim.least_load(None, [a, b], slot) is a  # the load of the moment
    assert sim.least_peak(None, [a, b], slot) is b  # the month's peak
    assert sim.least_peak(None, [a, b, c], slot) is c  # per unit of capacity


def test_the_tally_counts_wins_losses_and_ties_per_seed() -> None:
    per_seed = {1: {"pack": 0, "most_spare": 30, "x": 0}, 2: {"pack": 60, "most_spare": 30, "x": 90},
                3: {"pack": 0, "most_spare": 0, "x": 30}, 4: {"pack": 30, "most_spare": 0, "x": 30}}
    assert sim.tally(per_seed, "pack", "most_spare") == {"wins": 1, "losses": 2, "ties": 1}
    assert sim.tally(per_seed, "most_spare", "pack") == {"wins": 2, "losses": 1, "ties": 1}
    assert sim.tally(per_seed, "pack", "x") == {"wins": 2, "losses": 0, "ties": 2}
    summary = sim.summary({"v": per_seed})["v"]
    assert summary["total_minutes"] == {"pack": 90, "most_spare": 60, "x": 150}
    assert summary["seeds_with_overload"] == {"pack": 2, "most_spare": 2, "x": 3}
    assert set(summary["against"]) == {"pack", "most_spare"}


@pytest.mark.slow
def test_the_report_on_a_handful_of_seeds() -> None:
    # The Canadian region only, to keep it short; every variant, every policy.
    collected = sim.collect(TEST_SEEDS, regions=("ca",))
    assert set(collected) == set(sim.VARIANTS)
    report = sim.summary(collected)
    for variant, row in report.items():
        assert row["seeds"] == len(TEST_SEEDS)
        assert set(row["total_minutes"]) == set(sim.POLICIES)
        for ours, against in row["against"].items():
            assert set(against) == set(sim.POLICIES) - {ours}
            for other, t in against.items():
                assert t["wins"] + t["losses"] + t["ties"] == len(TEST_SEEDS)
                mirror = report[variant]["against"].get(other, {}).get(ours)
                if mirror:
                    assert (mirror["wins"], mirror["losses"], mirror["ties"]) == (t["losses"], t["wins"], t["ties"])
        for figures in collected[variant].values():
            assert all(m >= 0 and m % sim.SLOT_MINUTES == 0 for m in figures.values())
    # Round-robin ignores load: on at least one of these traces it passes capacity somewhere.
    assert any(report[v]["seeds_with_overload"]["round-robin"] for v in report)
    # The report is the same in parallel (2 workers) as in one process.
    assert sim.collect(TEST_SEEDS[:2], ("growth",), regions=("ca",), workers=2) == \
        {"growth": {s: collected["growth"][s] for s in TEST_SEEDS[:2]}}
    text = sim.markdown(report, TEST_SEEDS, "tight")
    for variant in sim.VARIANTS:
        assert f"**{variant}**" in text
