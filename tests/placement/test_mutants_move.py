"""`tenant plan`'s capacity rule (move.check_plan_change), which mutation testing found
without a unit test (docs/testing.md). Fleets small enough to compute by hand."""

from __future__ import annotations

import pytest

from meetfleet.placement import TenantObservation
from meetfleet.placement.move import check_plan_change, is_bigger_plan
from tests.placement.fleets import WINDOW, fleet, observe, server, tenant

SMALL, MEDIUM = 77.7, 310.8  # the plans' expected peaks (users_to_load of 60 % of their caps)


def test_a_smaller_or_equal_plan_is_never_checked() -> None:
    f = fleet([server("a")], [tenant("t", "a", plan="medium")])
    verdict = check_plan_change(f, observe({"a": 899}), f.tenants["t"], "small")
    assert (verdict.server, verdict.bigger, verdict.ok) == ("a", False, True)
    assert verdict.expected is None and verdict.decision is None and verdict.best is None
    assert not is_bigger_plan(f, "medium", "medium") and is_bigger_plan(f, "small", "large")


def test_a_tenant_on_no_server_is_not_checked() -> None:
    f = fleet([server("a")], [tenant("t", None)])
    verdict = check_plan_change(f, observe({"a": 899}), f.tenants["t"], "large")
    assert (verdict.server, verdict.bigger, verdict.ok, verdict.decision) == (None, True, True, None)


def test_a_bigger_plan_that_fits_its_server() -> None:
    # 900 usable - 560 observed = 340 >= medium's 310.8, once the tenant's own small share
    # (77.7, counted as recent) is left out: with it, 262 would not do.
    f = fleet([server("a"), server("b")], [tenant("t", "a")])
    verdict = check_plan_change(f, observe({"a": 560, "b": 0}), f.tenants["t"], "medium")
    assert verdict.bigger and verdict.ok and verdict.reasons == ()
    assert verdict.expected.load == pytest.approx(MEDIUM)
    own = next(c for c in verdict.decision.candidates if c.server == "a")
    assert own.spare_after == pytest.approx(900 - 560 - MEDIUM)
    assert verdict.best == "b"  # placement would still choose the emptier one


def test_a_bigger_plan_that_does_not_fit_names_why_and_where_it_would() -> None:
    f = fleet([server("a"), server("b")], [tenant("t", "a")])
    verdict = check_plan_change(f, observe({"a": 700, "b": 0}), f.tenants["t"], "medium")
    assert not verdict.ok
    assert any(r.startswith("would pass its capacity") and "spare 200 < expected 311" in r for r in verdict.reasons)
    assert verdict.best == "b"


def test_history_never_lowers_the_new_plans_week_but_raises_it() -> None:
    # Months of history at 50 units: the new plan's week stays (history was under the old caps).
    f = fleet([server("a")], [tenant("t", "a")])
    quiet = TenantObservation(peak_load=50, history_seconds=WINDOW, history_seconds_on={"a": WINDOW})
    verdict = check_plan_change(f, observe({"a": 100}, tenants={"t": quiet}), f.tenants["t"], "medium")
    assert verdict.expected.load == pytest.approx(MEDIUM)
    busy = TenantObservation(peak_load=400, history_seconds=WINDOW, history_seconds_on={"a": WINDOW})
    verdict = check_plan_change(f, observe({"a": 100}, tenants={"t": busy}), f.tenants["t"], "medium")
    assert verdict.expected.load == pytest.approx(400)
    assert verdict.expected.basis == "plan+partial history"
