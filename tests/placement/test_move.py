"""The rule whether a server can take a moved tenant (placement/move.py), apart from the CLI."""

from __future__ import annotations

import pytest

from meetfleet.fleet import ServerState
from meetfleet.placement.expected import plan_expected_load
from meetfleet.placement.move import check_forced_move, check_move, state_refusal
from tests.placement.fleets import PLANS, fleet, observe, server, tenant

SMALL = plan_expected_load(PLANS["small"])  # 77.7 units before history


def test_a_server_with_room_takes_the_tenant():
    f = fleet([server("a"), server("b")], [tenant("mover", "a")])
    verdict = check_move(f, observe({"a": 100, "b": 100}), f.tenants["mover"], "b")
    assert verdict.ok and verdict.reasons == ()
    assert verdict.expected.load == pytest.approx(SMALL) and verdict.expected.basis == "plan"


def test_a_server_without_room_is_refused_naming_why_and_the_best_one():
    # b: 200 * 0.9 usable - 150 observed = 30 spare, less than the tenant's 77.7
    f = fleet([server("a"), server("b", capacity=200)], [tenant("mover", "a")])
    verdict = check_move(f, observe({"a": 100, "b": 150}), f.tenants["mover"], "b")
    assert not verdict.ok
    assert verdict.reasons == ("would pass its capacity (spare 30 < expected 78)",)
    assert verdict.best == "a"


def test_the_moving_tenant_is_not_counted_twice_on_its_own_server():
    # Without history the mover counts as a recent tenant of a; moving it away must not
    # count it there as well as on the target.
    f = fleet([server("a", capacity=200), server("b", capacity=200)], [tenant("mover", "a")])
    verdict = check_move(f, observe({"a": 0, "b": 0}), f.tenants["mover"], "b")
    spare_a = next(c.spare for c in verdict.decision.candidates if c.server == "a")
    assert spare_a.recent_tenants == ()
    assert spare_a.spare == pytest.approx(180)


@pytest.mark.parametrize("state", [ServerState.CORDONED, ServerState.DRAINING])
def test_force_never_skips_a_refusing_state(state):
    f = fleet([server("a"), server("b", state=state)], [tenant("mover", "a")])
    assert state_refusal(f, "b") == (f"b is {state.value}: it takes no new tenants, even with --force "
                                     "(uncordon it first)")
    assert check_forced_move(f, None, "b").reasons == (state_refusal(f, "b"),)


def test_force_skips_capacity_but_not_a_down_server():
    f = fleet([server("a"), server("b", capacity=100)], [tenant("mover", "a")])
    full = observe({"a": 0, "b": 95})
    assert not check_move(f, full, f.tenants["mover"], "b").ok
    assert check_forced_move(f, full, "b").ok
    assert check_forced_move(f, observe({"a": 0, "b": 0}, down=["b"]), "b").reasons == (
        "b is down (meetfleet_server_up is 0)",)
    assert check_forced_move(f, observe({"a": 0}), "b").reasons == (
        "b is down (no observation from the capacity source)",)
    assert check_forced_move(f, None, "b").ok  # no source: whether it is up cannot be told
