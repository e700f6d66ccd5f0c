"""Properties that hold on any fleet: placement never passes a capacity, never picks an excluded server.

Fleets mix flat peaks and hour-of-week profiles, tenants in several time zones.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meetfleet.fleet import ServerState
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


@settings(max_examples=300, deadline=None)
@given(fleets_and_load(), st.sampled_from(sorted(PLANS)), st.sampled_from(REGIONS))
def test_placement_never_passes_capacity_nor_picks_an_excluded_server(data, plan, region) -> None:
    f, observed = data
    decision = place(f, observed, plan, region)
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
    # The fullest server safe to pack wins; when none is, the most spare.
    eligible = [c for c in decision.candidates if c.eligible]
    packable = [c.spare_after for c in eligible if c.packable]
    if packable:
        assert decision.winner.packable and decision.winner.spare_after == min(packable)
    else:
        assert decision.winner.spare_after == max(c.spare_after for c in eligible)


@settings(max_examples=100, deadline=None)
@given(fleets_and_load(), st.sampled_from(sorted(PLANS)), st.sampled_from(REGIONS))
def test_placement_is_deterministic_whatever_the_order_of_servers(data, plan, region) -> None:
    f, observed = data
    shuffled = f.model_copy(update={"hosts": dict(reversed(list(f.hosts.items())))})
    assert place(f, observed, plan, region).chosen == place(shuffled, observed, plan, region).chosen
