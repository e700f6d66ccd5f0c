"""Behaviours of placement that mutation testing found untested (docs/testing.md).

Each test states a rule of docs/placement.md on a fleet small enough to compute by hand.
"""

from __future__ import annotations

import pytest

from meetfleet.placement import Observations, ServerObservation, TenantObservation, place, server_spares
from tests.placement.fleets import fleet, server, tenant

SMALL = 77.7  # users_to_load(30): the small plan at the 0.6 peak factor
MEDIUM = 310.8  # users_to_load(120)


def test_the_decision_names_its_region_and_plan() -> None:
    d = place(fleet([server("a"), server("c", region="ca")]), Observations(
        0, {"a": ServerObservation(True, 0, 0), "c": ServerObservation(True, 0, 0)}), "medium", "ca")
    assert (d.region, d.plan, d.chosen) == ("ca", "medium", "c")


def test_server_spares_covers_a_server_without_tenants() -> None:
    # b carries one tenant placed a moment ago (no observation: it counts at its plan);
    # a carries none and its spare is its usable capacity minus its peak.
    f = fleet([server("a"), server("b")], [tenant("t", "b", plan="medium")])
    spares = server_spares(f, Observations(0, {"a": ServerObservation(True, 100, 100),
                                               "b": ServerObservation(True, 100, 100)}))
    assert list(spares) == ["a", "b"]
    assert spares["a"].spare == pytest.approx(900 - 100)
    assert spares["a"].tenants == 0 and spares["a"].recent_tenants == ()
    assert spares["b"].spare == pytest.approx(900 - 100 - MEDIUM)
    assert spares["b"].recent_tenants == (("t", pytest.approx(MEDIUM)),)


def test_snapshot_a_tenant_measured_on_another_server_counts_in_full_here() -> None:
    # Snapshot (exporter only): the part of a recent tenant's load already in this
    # server's current load is not counted twice; a tenant whose current load was measured
    # on another server has nothing here yet, so its whole expected week counts.
    f = fleet([server("a"), server("b")], [tenant("t", "a", plan="medium")])
    elsewhere = TenantObservation(peak_load=50, load_now_on={"b": 50.0})
    here = TenantObservation(peak_load=50, load_now_on={"a": 50.0})
    servers = {"a": ServerObservation(True, 100, 100), "b": ServerObservation(True, 150, 150)}
    moved = server_spares(f, Observations(0, servers, {"t": elsewhere}))["a"]
    assert moved.spare == pytest.approx(900 - 100 - MEDIUM)
    counted_once = server_spares(f, Observations(0, servers, {"t": here}))["a"]
    assert counted_once.spare == pytest.approx(900 - 100 - (MEDIUM - 50))


def test_the_smaller_plans_that_would_fit_are_listed_smallest_first() -> None:
    # 400 free: small (77.7) and medium (310.8) would fit, large (932.4) does not.
    f = fleet([server("a")])
    d = place(f, Observations(0, {"a": ServerObservation(True, 500, 500)}), "large", "eu")
    assert d.chosen is None
    assert "a smaller plan would fit on a: small, medium" in d.suggestions


def test_a_newcomers_expected_load_comes_from_its_plan() -> None:
    d = place(fleet([server("a")]), Observations(0, {"a": ServerObservation(True, 0, 0)}), "small", "eu")
    assert d.expected.basis == "plan"
    assert d.expected.load == pytest.approx(SMALL)


def test_profiles_add_hour_by_hour() -> None:
    from meetfleet.placement.profile import HOURS_PER_WEEK, add, flat

    assert add([]) == [0.0] * HOURS_PER_WEEK
    week = tuple(float(h) for h in range(HOURS_PER_WEEK))
    assert add([week, flat(2.0)]) == [h + 2.0 for h in range(HOURS_PER_WEEK)]


def test_a_partial_history_above_a_plan_of_tiny_peak_scales_its_week() -> None:
    # A plan whose expected peak is under one unit: the history (at an unknown hour) still
    # scales the plan's week up to it, it does not flatten it to every hour of the week.
    from meetfleet.placement import tenant_expected_load
    from meetfleet.placement.profile import HOURS_PER_WEEK

    prior = tuple(0.5 if h % 24 == 9 else 0.0 for h in range(HOURS_PER_WEEK))
    expected = tenant_expected_load(prior, TenantObservation(peak_load=2.0, history_seconds=10), 100)
    assert expected.basis == "plan+partial history"
    assert expected.hourly == tuple(4 * x for x in prior)
    untouched = tenant_expected_load(prior, TenantObservation(peak_load=0.2, history_seconds=10), 100)
    assert (untouched.basis, untouched.hourly) == ("plan", prior)
