"""Properties that hold on any fleet, checked against an independent hour-by-hour computation.

The fleets are built to order (tests/placement/independent.py): every example has at
least two eligible servers, often several safe to pack, beside servers too full by a
margin at one hour, cordoned, draining, in another region, down or unobserved, with
tenants placed there recently (at their plan, with partial history, moved from another
server, exactly at the history threshold) or settled. Each decision, under both
policies, is compared with the ranking that module recomputes from the documented rule,
not with the model under test. Sources may also serve NaN, infinities and negative numbers.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from meetfleet.fleet import PlacementPolicy
from meetfleet.placement import Observations, PlacementSettings, place
from meetfleet.placement.profile import HOURS_PER_WEEK
from tests.placement.independent import MOMENTS, Case, SimServer, cases, judge, ranking

TIE = 1e-6  # two spare values this close are a tie the float order of a sum may break either way


def decide(case):
    return place(case.fleet(), case.observations(), case.plan, case.region, PlacementSettings(headroom=case.headroom),
                 timezone=case.given_timezone, policy=case.policy)


def check_against_independent(case) -> None:
    decision = decide(case)
    verdicts = {v.server: v for v in judge(case)}
    assert (decision.policy, decision.region, decision.plan) == (case.policy, case.region, case.plan)
    # Every server: eligible exactly when the independent sum says so, with the same spare left.
    for c in decision.candidates:
        v = verdicts[c.server]
        assert c.eligible == v.eligible, (c.server, c.reasons, v)
        assert c.spare_after == pytest.approx(v.after, abs=1e-6), c.server
        if case.policy == PlacementPolicy.PACK:
            assert c.packable == v.packable, (c.server, v)
        else:
            assert c.packable is None
    best = ranking(list(verdicts.values()), case.policy)
    assert best, "the case was built with eligible servers"
    if len(best) > 1 and abs(best[0].after - best[1].after) < TIE and best[0].packable == best[1].packable:
        event("near tie")
        assert decision.chosen in {best[0].server, best[1].server}
    else:
        assert decision.chosen == best[0].server
    # The whole ranking of eligible servers, in order.
    ranked = [c.server for c in decision.candidates if c.eligible]
    assert sorted(ranked) == sorted(v.server for v in best)
    event(f"{case.policy.value}: {sum(v.packable for v in best)} packable of {len(best)} eligible")


@settings(max_examples=200, deadline=None)
@given(cases())
def test_decision_matches_the_independent_hour_by_hour_computation(case) -> None:
    check_against_independent(case)


@settings(max_examples=80, deadline=None)
@given(cases(min_packable=2))
def test_pack_chooses_the_fullest_of_several_servers_safe_to_pack(case) -> None:
    case = dataclasses.replace(case, policy=PlacementPolicy.PACK)
    check_against_independent(case)
    decision = decide(case)
    packable = [c for c in decision.candidates if c.packable]
    assert len(packable) >= 2
    assert decision.winner.packable
    assert decision.winner.spare_after <= min(c.spare_after for c in packable) + TIE


@settings(max_examples=80, deadline=None)
@given(cases(min_packable=2))
def test_most_spare_chooses_the_emptiest_even_where_pack_would_not(case) -> None:
    case = dataclasses.replace(case, policy=PlacementPolicy.MOST_SPARE)
    check_against_independent(case)
    decision = decide(case)
    eligible = [c for c in decision.candidates if c.eligible]
    assert decision.winner.spare_after >= max(c.spare_after for c in eligible) - TIE


def test_the_generator_builds_the_kinds_it_is_asked_for() -> None:
    # By construction, not by filtering: every drawn case has what it was asked for.
    @settings(max_examples=60, deadline=None)
    @given(cases(min_packable=2, min_eligible=3))
    def check(case) -> None:
        verdicts = {v.server: v for v in judge(case)}
        for s in case.servers:
            v = verdicts[s.name]
            assert v.eligible == (s.kind in ("packable", "eligible")), (s.kind, v)
            if s.kind in ("packable", "eligible"):
                assert v.packable == (s.kind == "packable"), (s.kind, v)
        assert sum(v.packable for v in verdicts.values()) >= 2
        assert sum(v.eligible for v in verdicts.values()) >= 3
    check()


@settings(max_examples=50, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_placement_is_deterministic_whatever_the_order_of_servers(case, rng) -> None:
    servers = list(case.servers)
    rng.shuffle(servers)
    shuffled = dataclasses.replace(case, servers=servers)
    assert decide(case).chosen == decide(shuffled).chosen
    assert [c.server for c in decide(case).candidates] == [c.server for c in decide(shuffled).candidates]


BAD = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-9, -5000.0])


@st.composite
def corrupted(draw, observed: Observations) -> tuple[Observations, set[str], set[str]]:
    """`observed` with bad values in some servers' and tenants' fields; which ones."""
    servers, tenants = dict(observed.servers), dict(observed.tenants)
    bad_servers, bad_tenants = set(), set()
    for name in draw(st.lists(st.sampled_from(sorted(servers)), unique=True, min_size=1)):
        seen, value = servers[name], draw(BAD)
        where = draw(st.sampled_from(["load_now", "peak_load", "profile"] if seen.profile else ["load_now",
                                                                                               "peak_load"]))
        if where == "profile":
            hour = draw(st.integers(0, HOURS_PER_WEEK - 1))
            servers[name] = dataclasses.replace(seen, profile=(*seen.profile[:hour], value, *seen.profile[hour + 1:]))
        else:
            servers[name] = dataclasses.replace(seen, **{where: value})
        bad_servers.add(name)
    if tenants and draw(st.booleans()):
        name = draw(st.sampled_from(sorted(tenants)))
        seen, value = tenants[name], draw(BAD)
        where = draw(st.sampled_from(["peak_load", "history_seconds", "load_now_on", "history_seconds_on"]))
        if where in ("load_now_on", "history_seconds_on"):
            labelled = getattr(seen, where)
            tenants[name] = dataclasses.replace(seen, **{where: {server: value for server in labelled}})
        else:
            tenants[name] = dataclasses.replace(seen, **{where: value})
        bad_tenants.add(name)
        bad_servers |= set(seen.history_seconds_on) | set(seen.load_now_on)
    return (Observations(observed.window_seconds, servers, tenants, at=observed.at), bad_servers, bad_tenants)


@settings(max_examples=150, deadline=None)
@given(cases(), st.data())
def test_no_nan_infinite_or_negative_value_makes_a_server_eligible(case, draw) -> None:
    f, observed, plan, region, policy = case.fleet(), case.observations(), case.plan, case.region, case.policy
    bad, bad_servers, bad_tenants = draw.draw(corrupted(observed))
    options = {"settings": PlacementSettings(headroom=case.headroom), "timezone": case.given_timezone, "policy": policy}
    decision = place(f, bad, plan, region, **options)
    for c in decision.candidates:
        if c.server in bad_servers:
            assert not c.eligible
            assert c.reasons[0].startswith("unknown load (the capacity source served ")
            assert c.spare.up is None
    assert decision.chosen not in bad_servers
    # Refused is unknown, exactly as if the source had not seen those servers (and those
    # tenants) at all: never read as an empty server.
    unseen = Observations(observed.window_seconds,
                          {n: s for n, s in observed.servers.items() if n not in bad_servers},
                          {n: t for n, t in observed.tenants.items() if n not in bad_tenants}, at=observed.at)
    same = place(f, unseen, plan, region, **options)
    assert decision.chosen == same.chosen
    assert [(c.server, c.spare_after) for c in decision.candidates if c.eligible] == \
        [(c.server, c.spare_after) for c in same.candidates if c.eligible]


@pytest.mark.parametrize("policy", list(PlacementPolicy))
def test_ties_go_to_the_larger_share_of_capacity_left_then_to_the_name(policy) -> None:
    # Exact ties by construction (no headroom, whole numbers): a and b are the same server
    # under two names; c has the same spare left on a larger capacity, so a smaller share.
    servers = [SimServer("bbb-c.example.coop", "eu", 1200, week=None, peak=400.0),
               SimServer("bbb-b.example.coop", "eu", 1000, week=None, peak=200.0),
               SimServer("bbb-a.example.coop", "eu", 1000, week=None, peak=200.0)]
    case = Case(servers, "small", "eu", "Europe/Berlin", None, MOMENTS[0], 0.0, policy)
    decision = decide(case)
    assert [c.server for c in decision.candidates] == ["bbb-a.example.coop", "bbb-b.example.coop",
                                                       "bbb-c.example.coop"]
    assert len({c.spare_after for c in decision.candidates}) == 1
    assert [v.server for v in ranking(judge(case), policy)] == [c.server for c in decision.candidates]
