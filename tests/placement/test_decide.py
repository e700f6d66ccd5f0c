"""The placement decision on fleets where the right answer is known."""

from __future__ import annotations

import pytest

from meetfleet.fleet import PlacementPolicy, ServerState
from meetfleet.placement import PlacementSettings, TenantObservation, place, server_spares
from meetfleet.placement.decide import PlacementInputError
from tests.placement.fleets import WEEK, WINDOW, fleet, history, observe, server, tenant

SMALL = 77.7  # users_to_load(30): the small plan (50 users) at the 0.6 peak factor
MEDIUM = 310.8  # users_to_load(120)
MEDIUM_CAP = 518.0  # users_to_load(200): the medium plan at its whole cap
LARGE = 932.4  # users_to_load(360)


def reasons(decision, name: str) -> tuple[str, ...]:
    return next(c.reasons for c in decision.candidates if c.server == name)


PACK = PlacementPolicy.PACK


def test_most_spare_is_the_default_policy_and_the_most_spare_wins() -> None:
    # The same fleet as the packing test below: b has the most spare once placed
    # (700 - 310.8), so b wins, before c (550) and a (400), whatever their caps.
    f = fleet([server("a"), server("b"), server("c")])
    d = place(f, observe({"a": 500, "b": 200, "c": 350}), "medium", "eu")
    assert f.placement_policy == PlacementPolicy.MOST_SPARE
    assert d.policy == PlacementPolicy.MOST_SPARE
    assert d.chosen == "b"
    assert d.winner.spare_after == pytest.approx(900 - 200 - MEDIUM)
    assert [c.server for c in d.candidates] == ["b", "c", "a"]
    # Safe to pack is the pack policy's question: not evaluated here.
    assert [c.packable for c in d.candidates] == [None, None, None]


def test_fullest_server_safe_to_pack_wins_keeping_the_emptiest_for_big_tenants() -> None:
    # medium: expected 310.8, 518 at its whole cap. a (400 free) cannot take it at its
    # cap; b (700) and c (550) can: the fullest of those, c, wins and b stays free.
    f = fleet([server("a"), server("b"), server("c")], policy=PACK)
    d = place(f, observe({"a": 500, "b": 200, "c": 350}), "medium", "eu")
    assert d.policy == PACK
    assert d.chosen == "c"
    winner = d.winner
    assert winner.packable
    assert winner.spare.spare == pytest.approx(1000 * 0.9 - 350)
    assert winner.spare_after == pytest.approx(900 - 350 - MEDIUM)
    assert [c.server for c in d.candidates] == ["c", "b", "a"]
    assert [c.packable for c in d.candidates] == [True, True, False]


def test_the_policy_given_to_place_overrides_the_fleets() -> None:
    observed = observe({"a": 500, "b": 200, "c": 350})
    packing = fleet([server("a"), server("b"), server("c")], policy=PACK)
    default = fleet([server("a"), server("b"), server("c")])
    assert place(packing, observed, "medium", "eu", policy=PlacementPolicy.MOST_SPARE).chosen == "b"
    assert place(default, observed, "medium", "eu", policy=PACK).chosen == "c"


def test_most_spare_wins_under_pack_when_no_server_is_safe_to_pack() -> None:
    # None has 518 free for the medium tenant at its cap: the widest margin wins.
    f = fleet([server("a"), server("b"), server("c")], policy=PACK)
    d = place(f, observe({"a": 500, "b": 450, "c": 600}), "medium", "eu")
    assert d.chosen == "b"
    assert d.winner.spare_after == pytest.approx(900 - 450 - MEDIUM)
    assert [c.server for c in d.candidates] == ["b", "a", "c"]
    assert not any(c.packable for c in d.candidates)


def test_capacity_counts_not_only_load() -> None:
    # "small-box" carries less load than "big" but has no room for a medium tenant.
    f = fleet([server("big", capacity=2000), server("small-box", capacity=400)])
    d = place(f, observe({"big": 600, "small-box": 100}), "medium", "eu")
    assert d.chosen == "big"
    assert "would pass its capacity (spare 260 < expected 311)" in reasons(d, "small-box")


def test_tenant_placed_too_recently_to_be_in_the_peak_is_counted() -> None:
    # "a" looks emptier, but a medium tenant was placed there yesterday: its expected
    # peak (310.8) is not in a's observed peak yet. A large newcomer (932.4) leaves the
    # most spare on b (1800 - 300 - 932.4 against a's 1800 - 200 - 310.8 - 932.4).
    f = fleet([server("a", capacity=2000), server("b", capacity=2000)], [tenant("newcomer", "a", plan="medium")])
    newcomer = TenantObservation(peak_load=20, history_seconds=24 * 3600, history_seconds_on={"a": 24 * 3600})
    d = place(f, observe({"a": 200, "b": 300}, tenants={"newcomer": newcomer}), "large", "eu")
    assert d.chosen == "b"
    a = next(c for c in d.candidates if c.server == "a")
    assert a.spare.recent_tenants == (("newcomer", pytest.approx(MEDIUM)),)
    assert a.spare_after == pytest.approx(1800 - 200 - MEDIUM - LARGE)


def test_recent_tenants_at_their_caps_make_a_server_unsafe_to_pack() -> None:
    # Two medium tenants placed on "a" yesterday count at 310.8 each: a keeps 478 spare,
    # the fullest fit for a small tenant. But at their caps (518 each) a would keep only
    # 64, less than the small tenant's own cap (129.5): a is not safe to pack; b is.
    tenants = [tenant("new1", "a", plan="medium"), tenant("new2", "a", plan="medium")]
    f = fleet([server("a", capacity=2000), server("b", capacity=2000)], tenants, policy=PACK)
    d = place(f, observe({"a": 700, "b": 1000}), "small", "eu")
    a = next(c for c in d.candidates if c.server == "a")
    assert a.spare.spare == pytest.approx(1800 - 700 - 2 * MEDIUM)
    assert min(a.spare.free_at_caps) == pytest.approx(1800 - 700 - 2 * MEDIUM_CAP)
    assert a.eligible and not a.packable
    assert d.chosen == "b" and d.winner.packable


def test_tenant_with_enough_history_is_in_the_peak_already() -> None:
    f = fleet([server("a", capacity=2000), server("b", capacity=2000)], [tenant("settled", "a", plan="medium")])
    settled = history(peak=150, seconds=WINDOW, on="a")
    d = place(f, observe({"a": 200, "b": 300}, tenants={"settled": settled}), "large", "eu")
    assert d.chosen == "a"
    assert d.winner.spare.recent_tenants == ()


def test_history_replaces_the_plan_for_the_tenant_itself() -> None:
    from meetfleet.placement.spare import LoadModel

    f = fleet([server("a")], [tenant("quiet", "a", plan="large")])
    quiet = history(peak=120, seconds=WINDOW * 0.75, on="a")
    model = LoadModel(f, observe({"a": 0}, tenants={"quiet": quiet}), PlacementSettings())
    assert model.tenant(f.tenants["quiet"]).load == 120
    assert model.tenant(f.tenants["quiet"]).basis == "history"
    # Partial history never lowers the plan's estimate, it can only raise it.
    short = history(peak=1200, seconds=WEEK / 7, on="a")
    model = LoadModel(f, observe({"a": 0}, tenants={"quiet": short}), PlacementSettings())
    assert (model.tenant(f.tenants["quiet"]).load, model.tenant(f.tenants["quiet"]).basis) == \
        (1200, "plan+partial history")


def test_snapshot_does_not_count_a_recent_tenant_twice() -> None:
    f = fleet([server("a")], [tenant("newcomer", "a", plan="medium")])
    now = TenantObservation(peak_load=100, load_now_on={"a": 100})
    spares = server_spares(f, observe({"a": 100}, tenants={"newcomer": now}, window=0))
    assert spares["a"].committed == pytest.approx(310.8)  # 100 measured + 210.8 still expected


@pytest.mark.parametrize(("state", "word"), [(ServerState.CORDONED, "cordoned"),
                                             (ServerState.DRAINING, "draining"),
                                             (ServerState.RETIRED, "retired")])
def test_server_state_excludes(state: ServerState, word: str) -> None:
    f = fleet([server("a", state=state), server("b")])
    d = place(f, observe({"a": 0, "b": 850}), "small", "eu")
    assert d.chosen is None  # b has 50 spare, a is the emptiest but closed
    assert word in reasons(d, "a")


def test_down_server_is_excluded() -> None:
    f = fleet([server("a"), server("b")])
    d = place(f, observe({"a": 0, "b": 300}, down={"a"}), "small", "eu")
    assert d.chosen == "b"
    assert reasons(d, "a") == ("down (meetfleet_server_up is 0)",)


def test_server_without_observation_is_down() -> None:
    f = fleet([server("a"), server("b")])
    d = place(f, observe({"b": 300}), "small", "eu")
    assert d.chosen == "b"
    assert "down (no observation" in reasons(d, "a")[0]


def test_other_region_is_excluded() -> None:
    f = fleet([server("a", region="ca"), server("b")])
    d = place(f, observe({"a": 0, "b": 300}), "small", "eu")
    assert d.chosen == "b"
    assert reasons(d, "a") == ("other region (ca)",)


def test_would_pass_capacity_is_excluded() -> None:
    f = fleet([server("a"), server("b")])
    d = place(f, observe({"a": 850, "b": 300}), "small", "eu")
    assert d.chosen == "b"
    assert "would pass its capacity (spare 50 < expected 78)" in reasons(d, "a")


@pytest.mark.parametrize("policy", list(PlacementPolicy))
def test_ties_are_broken_by_share_then_name(policy: PlacementPolicy) -> None:
    f = fleet([server("b"), server("a"), server("c")], policy=policy)
    d = place(f, observe({"a": 100, "b": 100, "c": 100}), "small", "eu")
    assert d.chosen == "a"
    # Same spare units: the smaller server keeps the larger share of its capacity.
    f = fleet([server("a", capacity=2000), server("b", capacity=1000)], policy=policy)
    d = place(f, observe({"a": 1000, "b": 100}), "small", "eu")
    assert d.candidates[0].spare_after == d.candidates[1].spare_after
    assert d.chosen == "b"


def test_nothing_fits_says_what_would() -> None:
    f = fleet([server("a"), server("b", state=ServerState.CORDONED), server("c", region="ca")])
    d = place(f, observe({"a": 700, "b": 0, "c": 0}), "medium", "eu")
    assert d.chosen is None
    text = "\n".join(d.suggestions)
    assert "the most spare in region eu is a with 200" in text
    assert "a smaller plan would fit on a: small" in text
    assert "uncordon b" in text
    assert "fleet_bbb_capacity >= 346" in text  # 310.8 / 0.9
    assert "fleet_bbb_cpus >= 7 at the default 50 units per CPU" in text  # 346 / 50


def test_unknown_plan_or_region_is_bad_input() -> None:
    f = fleet([server("a")])
    with pytest.raises(PlacementInputError, match="unknown plan 'huge'"):
        place(f, observe({"a": 0}), "huge", "eu")
    with pytest.raises(PlacementInputError, match="unknown region 'asia'"):
        place(f, observe({"a": 0}), "small", "asia")


def test_headroom_is_configurable() -> None:
    f = fleet([server("a")])
    assert place(f, observe({"a": 850}), "small", "eu", PlacementSettings(headroom=0.0)).chosen == "a"
    with pytest.raises(ValueError, match="headroom"):
        PlacementSettings(headroom=1.5)
