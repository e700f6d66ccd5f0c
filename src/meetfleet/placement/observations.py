"""What placement knows about the fleet's load, whatever the source (Prometheus, exporter).

Loads, peaks and durations are finite and never negative. A source that serves NaN, an
infinity or a negative number for a server has not measured it: the server is refused
(`Observations.refused`, with the value) and placement treats it as unknown, never as
empty. A bad value in a tenant's series refuses the servers that series is labelled with
and drops the tenant's observation (it then counts at its plan).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field


def is_valid(value: float) -> bool:
    """A load, peak or duration placement can use: finite and not negative."""
    return math.isfinite(value) and value >= 0


def show(value: float) -> str:
    """A value as Prometheus writes it (NaN, +Inf, -Inf, -1)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


def first_invalid(values: Iterable[float]) -> float | None:
    """The first value that is not finite and non-negative, else None."""
    values = tuple(values)
    # Fast path in C for the 168-value profiles: any NaN or infinity makes the sum non-finite.
    if math.isfinite(sum(values)) and (not values or min(values) >= 0):
        return None
    return next((v for v in values if not is_valid(v)), math.inf)  # inf: finite values too big to add


def _first_bad(fields: Iterable[tuple[str, Iterable[float]]]) -> tuple[str, float] | None:
    for what, values in fields:
        bad = first_invalid(values)
        if bad is not None:
            return what, bad
    return None


@dataclass(frozen=True)
class ServerObservation:
    """One BBB server as the capacity exporter sees it."""

    up: bool
    load_now: float
    # Highest load over the window; equal to load_now for a snapshot.
    peak_load: float
    # Highest load in each hour of the week over the window (168 values, UTC, Monday
    # 00:00 first; see profile.py). None: no hour detail, the peak holds at every hour.
    profile: tuple[float, ...] | None = None

    def invalid(self) -> tuple[str, float] | None:
        """The first of its values that is not valid (what it is, the value), or None."""
        return _first_bad((("current load", (self.load_now,)), ("peak load", (self.peak_load,)),
                           ("peak in an hour of the week", self.profile or ())))


@dataclass(frozen=True)
class TenantObservation:
    """One tenant's measured load over the window, across the servers it ran on."""

    peak_load: float
    # Its highest load in each hour of the week over the window, any server (as above).
    profile: tuple[float, ...] | None = None
    # How far back its samples go within the window, any server (seconds).
    history_seconds: float = 0.0
    # Same, per server it was measured on: tells whether its load is in that server's peak.
    history_seconds_on: dict[str, float] = field(default_factory=dict)
    load_now_on: dict[str, float] = field(default_factory=dict)

    def invalid(self) -> tuple[str, float] | None:
        """The first of its values that is not valid (what it is, the value), or None."""
        return _first_bad((("peak load", (self.peak_load,)), ("peak in an hour of the week", self.profile or ()),
                           ("seconds of history", (self.history_seconds, *self.history_seconds_on.values())),
                           ("current load", self.load_now_on.values())))


@dataclass(frozen=True)
class Observations:
    """Server and tenant loads over a window of `window_seconds`.

    A window of 0 is a snapshot (the exporter's /metrics read directly): peaks are the
    loads of the moment and no tenant has history. `at` is the Unix time they describe:
    it sets the time zone offsets (daylight saving time) of tenants' expected weeks.
    `refused`: servers whose values could not be used, with why; they are in no other
    field, so they count as unknown. Invalid values given in `servers` or `tenants` are
    moved there on construction, whatever the source.
    """

    window_seconds: float
    servers: dict[str, ServerObservation]
    tenants: dict[str, TenantObservation] = field(default_factory=dict)
    source: str = "memory"
    at: float = 0.0
    refused: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad_servers = {name: bad for name, seen in self.servers.items() if (bad := seen.invalid())}
        bad_tenants = {name: bad for name, seen in self.tenants.items() if (bad := seen.invalid())}
        if not bad_servers and not bad_tenants and not self.refused.keys() & self.servers.keys():
            return  # the usual case: nothing copied
        refused = dict(self.refused)
        for name, (what, value) in bad_servers.items():
            refused.setdefault(name, f"{show(value)} as its {what}")
        for name, (what, value) in bad_tenants.items():
            seen = self.tenants[name]
            # Its bad numbers would land on the servers its series are labelled with.
            for server in (*seen.history_seconds_on, *seen.load_now_on):
                refused.setdefault(server, f"{show(value)} as tenant {name}'s {what}")
        # Frozen: the cleaned copies replace the caller's dicts, which are left as they were.
        object.__setattr__(self, "servers", {n: s for n, s in self.servers.items() if n not in refused})
        object.__setattr__(self, "tenants", {n: t for n, t in self.tenants.items() if n not in bad_tenants})
        object.__setattr__(self, "refused", refused)

    @property
    def is_snapshot(self) -> bool:
        return self.window_seconds <= 0
