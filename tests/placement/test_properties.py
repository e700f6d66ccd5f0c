"""Properties that hold on any fleet: placement never passes a capacity, never picks an excluded server.

Fleets mix flat peaks and hour-of-week profiles, tenants in several time zones, under
both policies; sources may serve NaN, infinities and negative numbers.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meetfleet.fleet import PlacementPolicy, ServerState
from meetfleet.placement import Observations, ServerObservation, TenantObservation, place, server_spares
from meetfleet.placement.profile import HOURS_PER_WEEK
from tests.placement.fleets import PLANS, WINDOW, fleet, server, tenant

REGIONS = ("eu", "ca")
TIMEZONES = (None, "Europe/Berlin", "America/Vancouver", "America/St_Johns", "Asia/Kolkata")


def week(draw, top: float) -> tuple[float, ...]:
    """A profile: a few busy hours over a base level."""
    base = draw(st.floats(0, top))
    busy = draw(st.dictionaries(st.integers(0, HOURS_PER_WEEK - 1), st.floats(0, top), max_size=12))
    return tuple(busy.get(h, base) for h in range(HOURS_PER_WEEK))


@st.composite
def fleets_and_load(draw):
    n = draw(st.integers(1, 8))
    servers, observed = [], {}
    for i in range(n):
        name = f"s{i}"
        servers.append(server(name, capacity=draw(st.integers(1, 3000)), region=draw(st.sampled_from(REGIONS)),
                              state=draw(st.sampled_from(list(ServerState)))))
        if draw(st.booleans()) or i == 0:
            peak = draw(st.floats(0, 3000))
            profile = week(draw, 3000) if draw(st.booleans()) else None
            if profile is not None:
                peak = max(profile)
            observed[name] = ServerObservation(up=draw(st.booleans()), load_now=peak, peak_load=peak,
                                               profile=profile)
    tenants, tenant_obs = [], {}
    for j in range(draw(st.integers(0, 12))):
        host = draw(st.sampled_from(servers))
        if host.bbb.state == ServerState.RETIRED:
            continue
        name = f"t{j}"
        placed = tenant(name, host.name, plan=draw(st.sampled_from(sorted(PLANS))), region=host.region)
        tenants.append(placed.model_copy(update={"timezone": draw(st.sampled_from(TIMEZONES))}))
        if draw(st.booleans()):
            seconds = draw(st.floats(0, WINDOW))
            profile = week(draw, 1500) if draw(st.booleans()) else None
            tenant_obs[name] = TenantObservation(
                peak_load=max(profile) if profile else draw(st.floats(0, 1500)), profile=profile,
                history_seconds=seconds, history_seconds_on={host.name: seconds},
                load_now_on={host.name: draw(st.floats(0, 500))})
    window = draw(st.sampled_from([0, WINDOW]))
    at = draw(st.floats(0, 2e9))
    return fleet(servers, tenants), Observations(window, observed, tenant_obs, at=at)


POLICIES = st.sampled_from(list(PlacementPolicy))


@settings(max_examples=300, deadline=None)
@given(fleets_and_load(), st.sampled_from(sorted(PLANS)), st.sampled_from(REGIONS), POLICIES)
def test_placement_never_passes_capacity_nor_picks_an_excluded_server(data, plan, region, policy) -> None:
    f, observed = data
    decision = place(f, observed, plan, region, policy=policy)
    assert decision.policy == policy
    excluded = {c.server for c in decision.candidates if not c.eligible}
    if decision.chosen is None:
        assert len(excluded) == len(f.bbb_servers)
        assert decision.suggestions
        return
    assert decision.chosen not in excluded
    host = f.hosts[decision.chosen]
    assert host.bbb.state == ServerState.ACTIVE
    assert host.region == region
    assert observed.servers[decision.chosen].up
    # Record the tenant there as `tenant add` would: the server still has room left,
    # headroom included, so its capacity is never passed.
    placed = f.model_copy(update={"tenants": {**f.tenants, "newcomer": tenant("newcomer", decision.chosen, plan,
                                                                                region)}})
    after = server_spares(placed, observed)[decision.chosen]
    assert after.spare >= -1e-6
    assert after.committed <= host.bbb.capacity + 1e-6
    assert min(after.free) == pytest.approx(decision.winner.spare_after, abs=1e-6)
    # most_spare: the most spare wins. pack: the fullest server safe to pack; when none
    # is, the most spare.
    eligible = [c for c in decision.candidates if c.eligible]
    packable = [c.spare_after for c in eligible if c.packable]
    if policy == PlacementPolicy.MOST_SPARE:
        assert all(c.packable is None for c in decision.candidates)
    if packable:
        assert decision.winner.packable and decision.winner.spare_after == min(packable)
    else:
        assert decision.winner.spare_after == max(c.spare_after for c in eligible)


@settings(max_examples=100, deadline=None)
@given(fleets_and_load(), st.sampled_from(sorted(PLANS)), st.sampled_from(REGIONS), POLICIES)
def test_placement_is_deterministic_whatever_the_order_of_servers(data, plan, region, policy) -> None:
    f, observed = data
    shuffled = f.model_copy(update={"hosts": dict(reversed(list(f.hosts.items())))})
    assert place(f, observed, plan, region, policy=policy).chosen == \
        place(shuffled, observed, plan, region, policy=policy).chosen


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


@settings(max_examples=300, deadline=None)
@given(fleets_and_load(), st.data(), st.sampled_from(sorted(PLANS)), st.sampled_from(REGIONS), POLICIES)
def test_no_nan_infinite_or_negative_value_makes_a_server_eligible(data, draw, plan, region, policy) -> None:
    f, observed = data
    bad, bad_servers, bad_tenants = draw.draw(corrupted(observed))
    decision = place(f, bad, plan, region, policy=policy)
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
    same = place(f, unseen, plan, region, policy=policy)
    assert decision.chosen == same.chosen
    assert [(c.server, c.spare_after) for c in decision.candidates if c.eligible] == \
        [(c.server, c.spare_after) for c in same.candidates if c.eligible]
