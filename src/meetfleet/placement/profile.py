"""Hour-of-week load profiles: the peak load in each of the 168 hours of the week.

A tenant's load repeats every week and peaks in its own office hours. Comparing a
server's peak per hour of the week with a newcomer's expected load per hour of the
week tells whether their peaks coincide: a server carrying Vancouver has room at
Halifax's office hours, a server whose tenants meet on Wednesdays has room on Fridays.

Hours are counted in UTC from Monday 00:00 (hour 0) to Sunday 23:00 (hour 167), so a
profile does not depend on any time zone; tenants' local hours are converted with the
UTC offset in force at the decision time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HOURS_PER_WEEK = 168
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# 1970-01-01, the Unix epoch, was a Thursday: day 3 of a week starting on Monday.
_EPOCH_HOUR_OF_WEEK = 3 * 24

Profile = tuple[float, ...]

# A new member's week before it has history, in its local time, as a share of its
# expected peak: full from 08:00 to 18:00 on weekdays (office hours, school mornings),
# half from 18:00 to 22:00 on weekdays and 09:00 to 13:00 on Saturdays (associations
# meet in the evenings and at weekends), nothing at night. Deliberately broad: it only
# stands in until a week of the tenant's own history replaces it.
OFFICE_HOURS = (8, 18)
EVENING_HOURS = (18, 22)
SATURDAY_HOURS = (9, 13)
OFF_HOURS_SHARE = 0.5


def hour_of_week(timestamp: float) -> int:
    """The UTC hour of the week (0 = Monday 00:00-01:00 UTC) a Unix time falls in."""
    return (int(timestamp // 3600) + _EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK


def flat(value: float) -> Profile:
    return (float(value),) * HOURS_PER_WEEK


def add(profiles: Iterable[Sequence[float]]) -> list[float]:
    total = [0.0] * HOURS_PER_WEEK
    for profile in profiles:
        total = [a + b for a, b in zip(total, profile, strict=True)]
    return total


def peak(profile: Sequence[float]) -> float:
    return max(profile, default=0.0)


@lru_cache(maxsize=256)
def utc_offset_minutes(timezone: str, at: float) -> int:
    """Minutes east of UTC of `timezone` at Unix time `at`. KeyError: unknown time zone."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise KeyError(timezone) from exc
    offset = dt.datetime.fromtimestamp(at, dt.UTC).astimezone(zone).utcoffset()
    return round(offset.total_seconds() / 60) if offset else 0


def _local_share(local_hour_of_week: int, waking: bool = False) -> float:
    day, hour = divmod(local_hour_of_week % HOURS_PER_WEEK, 24)
    if waking:  # any hour a member might meet at: the office and evening hours, Saturday mornings
        in_week = day < 5 and OFFICE_HOURS[0] <= hour < EVENING_HOURS[1]
        return 1.0 if in_week or (day == 5 and SATURDAY_HOURS[0] <= hour < SATURDAY_HOURS[1]) else 0.0
    if day < 5 and OFFICE_HOURS[0] <= hour < OFFICE_HOURS[1]:
        return 1.0
    if (day < 5 and EVENING_HOURS[0] <= hour < EVENING_HOURS[1]) or \
            (day == 5 and SATURDAY_HOURS[0] <= hour < SATURDAY_HOURS[1]):
        return OFF_HOURS_SHARE
    return 0.0


@lru_cache(maxsize=256)
def _shape(offset_minutes: int, waking: bool) -> Profile:
    shape = []
    for utc_hour in range(HOURS_PER_WEEK):
        # The local hours this UTC hour overlaps (two when the offset has half hours).
        start = utc_hour * 60 + offset_minutes
        first, last = start // 60, (start + 59) // 60
        shape.append(max(_local_share(h, waking) for h in range(first, last + 1)))
    return tuple(shape)


def office_week(peak_load: float, timezone: str, at: float) -> Profile:
    """A tenant's expected week before history: OFFICE_HOURS etc. in its time zone, scaled."""
    return tuple(peak_load * share for share in _shape(utc_offset_minutes(timezone, at), False))


def waking_week(peak_load: float, timezone: str, at: float) -> Profile:
    """The worst case before history: `peak_load` at any hour a member might meet.

    Weekdays from the start of office hours to the end of the evening, and Saturday
    mornings, all at full load: we do not know yet whether it meets by day or at night.
    """
    return tuple(peak_load * share for share in _shape(utc_offset_minutes(timezone, at), True))


def describe_hour(hour: int, timezone: str, at: float) -> str:
    """'Wed 10:00 Europe/Berlin': the start of UTC hour-of-week `hour` in local time."""
    local = (hour * 60 + utc_offset_minutes(timezone, at)) % (HOURS_PER_WEEK * 60)
    day, minute = divmod(local, 24 * 60)
    return f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d} {timezone}"
