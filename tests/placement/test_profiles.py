"""Hour-of-week profiles: a tenant's expected week in its time zone, and placement with them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meetfleet.fleet import PlacementPolicy, Region
from meetfleet.placement import ServerObservation, TenantObservation, place
from meetfleet.placement.decide import PlacementInputError
from meetfleet.placement.expected import tenant_expected_load
from meetfleet.placement.profile import HOURS_PER_WEEK, describe_hour, hour_of_week, office_week
from tests.placement.fleets import WINDOW, fleet, observe, server, tenant

JANUARY = 1704067200.0  # 2024-01-01 00:00 UTC, a Monday
JULY = JANUARY + 182 * 86400  # 2024-07-01 00:00 UTC, a Monday
MEDIUM = 310.8


def test_hour_of_week_counts_from_monday_midnight_utc() -> None:
    assert hour_of_week(JANUARY) == 0
    assert hour_of_week(JANUARY + 34 * 3600 + 59) == 34  # Tuesday 10:00 UTC
    assert hour_of_week(JANUARY - 1) == 167  # Sunday 23:00


def test_expected_week_follows_the_tenants_time_zone_and_daylight_saving_time() -> None:
    berlin = office_week(100, "Europe/Berlin", JANUARY)
    assert len(berlin) == HOURS_PER_WEEK
    assert (berlin[6], berlin[7], berlin[16], berlin[17], berlin[20], berlin[21]) == (0, 100, 100, 50, 50, 0)
    assert berlin[5 * 24 + 8] == 50  # Saturday 09:00 local
    assert max(berlin[6 * 24:]) == 0  # nothing on Sunday
    summer = office_week(100, "Europe/Berlin", JULY)
    assert (summer[5], summer[6]) == (0, 100)  # 08:00 CEST is 06:00 UTC
    # Newfoundland is 3.5 hours behind UTC: 08:00 local is 11:30 UTC, so both UTC hours
    # it touches count (the conservative side of a half hour).
    st_johns = office_week(100, "America/St_Johns", JANUARY)
    assert (st_johns[10], st_johns[11], st_johns[12]) == (0, 100, 100)


def test_hours_are_described_in_local_time() -> None:
    assert describe_hour(7, "Europe/Berlin", JANUARY) == "Mon 08:00 Europe/Berlin"
    assert describe_hour(7, "Europe/Berlin", JULY) == "Mon 09:00 Europe/Berlin"
    assert describe_hour(2, "America/Vancouver", JANUARY) == "Sun 18:00 America/Vancouver"
    assert describe_hour(12, "America/St_Johns", JANUARY) == "Mon 08:30 America/St_Johns"


def test_partial_history_raises_the_expected_week_hour_by_hour() -> None:
    prior = office_week(MEDIUM, "Europe/Berlin", JANUARY)
    night = [0.0] * HOURS_PER_WEEK
    night[3] = 400.0  # it met at 04:00 Berlin time, where the plan expects nobody
    seen = TenantObservation(peak_load=400, profile=tuple(night), history_seconds=86400)
    expected = tenant_expected_load(prior, seen, needed_seconds=7 * 86400)
    assert expected.basis == "plan+partial history"
    assert expected.hourly[3] == 400 and expected.hourly[7] == pytest.approx(MEDIUM)
    assert expected.load == 400
    # A week of history: its own week replaces the plan's entirely.
    week = TenantObservation(peak_load=400, profile=tuple(night), history_seconds=7 * 86400)
    expected = tenant_expected_load(prior, week, needed_seconds=7 * 86400)
    assert (expected.basis, expected.hourly[7], expected.hourly[3]) == ("history", 0, 400)


def _europe_busy() -> tuple[float, ...]:
    """800 load units in European office hours (07:00-15:00 UTC on weekdays), 100 otherwise."""
    return tuple(800.0 if h // 24 < 5 and 7 <= h % 24 < 15 else 100.0 for h in range(HOURS_PER_WEEK))


def test_a_server_busy_in_european_hours_has_room_for_vancouver() -> None:
    f = fleet([server("busy-in-europe"), server("flat")])
    f = f.model_copy(update={"regions": {**f.regions, "eu": Region(name="eu", timezone="Europe/Berlin")}})
    observed = observe({"busy-in-europe": 800, "flat": 450})
    observed.servers["busy-in-europe"] = ServerObservation(up=True, load_now=100, peak_load=800,
                                                           profile=_europe_busy())
    observed.servers["flat"] = ServerObservation(up=True, load_now=450, peak_load=450,
                                                 profile=(450.0,) * HOURS_PER_WEEK)
    observed = type(observed)(WINDOW, observed.servers, {}, at=JANUARY)
    # A Berlin tenant's office hours meet the busy server's peak: it does not fit there.
    berlin = place(f, observed, "medium", "eu")
    assert berlin.chosen == "flat"
    busy = next(c for c in berlin.candidates if c.server == "busy-in-europe")
    assert busy.reasons == ("would pass its capacity at Mon 08:00 Europe/Berlin (spare 100 < expected 311)",)
    # A Vancouver tenant meets there at night in Europe: the busy server has room for it
    # (its own tightest hour stays Europe's mornings, 100 spare). "flat" keeps more spare
    # once placed (900 - 450 - 310.8 = 139.2), so most spare, the default, chooses flat.
    vancouver = place(f, observed, "medium", "eu", timezone="America/Vancouver")
    assert vancouver.chosen == "flat"
    busy = next(c for c in vancouver.candidates if c.server == "busy-in-europe")
    assert busy.eligible
    assert busy.spare_after == pytest.approx(100)
    assert busy.tightest == "Mon 08:00 Europe/Berlin"
    assert vancouver.winner.spare_after == pytest.approx(900 - 450 - MEDIUM)
    # Packing: the busy server is even safe to pack (800 free at Vancouver's hours >= 518
    # at the plan's cap); flat is not (450 < 518): the busy one takes it, flat stays free.
    packed = place(f, observed, "medium", "eu", timezone="America/Vancouver", policy=PlacementPolicy.PACK)
    assert packed.chosen == "busy-in-europe"
    assert packed.winner.packable
    assert packed.winner.spare_after == pytest.approx(100)  # its own tightest hour: Europe's mornings
    assert packed.winner.tightest == "Mon 08:00 Europe/Berlin"
    flat_one = next(c for c in packed.candidates if c.server == "flat")
    assert flat_one.eligible and not flat_one.packable
    assert flat_one.spare_after == pytest.approx(900 - 450 - MEDIUM)


def test_a_recent_tenant_counts_in_its_own_time_zone() -> None:
    # A Vancouver tenant placed yesterday on the European server adds its expected week
    # at Vancouver's hours, not at Europe's.
    f = fleet([server("busy-in-europe")], [tenant("vancouver", "busy-in-europe", plan="medium")])
    f = f.model_copy(update={"tenants": {"vancouver": f.tenants["vancouver"].model_copy(
        update={"timezone": "America/Vancouver"})}})
    observed = type(observe({}))(WINDOW, {"busy-in-europe": ServerObservation(
        up=True, load_now=100, peak_load=800, profile=_europe_busy())}, {}, at=JANUARY)
    d = place(f, observed, "small", "eu")
    spare = d.candidates[0].spare
    assert spare.recent_tenants == (("vancouver", pytest.approx(MEDIUM)),)
    assert spare.spare == pytest.approx(100)  # still Europe's mornings
    assert min(spare.free[16:24]) == pytest.approx(900 - 100 - MEDIUM)  # Monday 08:00-16:00 in Vancouver


def test_unknown_time_zones_are_bad_input_naming_the_key() -> None:
    # In the fleet: refused where it enters, when the model is built (the loader reports the file
    # and line: tests/fleet/test_inventory_values.py); placement trusts a validated fleet.
    with pytest.raises(ValidationError, match="is not a known time zone"):
        tenant("lost", "a").model_validate({**tenant("lost", "a").model_dump(), "timezone": "Mars/Base"})
    # In the request: refused by placement, naming the field.
    with pytest.raises(PlacementInputError, match="'Nowhere/Land' is not a known time zone") as caught:
        place(fleet([server("a")]), observe({"a": 0}), "small", "eu", timezone="Nowhere/Land")
    assert caught.value.field == "timezone"
