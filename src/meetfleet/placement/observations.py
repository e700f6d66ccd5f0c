"""What placement knows about the fleet's load, whatever the source (Prometheus, exporter)."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Observations:
    """Server and tenant loads over a window of `window_seconds`.

    A window of 0 is a snapshot (the exporter's /metrics read directly): peaks are the
    loads of the moment and no tenant has history. `at` is the Unix time they describe:
    it sets the time zone offsets (daylight saving time) of tenants' expected weeks.
    """

    window_seconds: float
    servers: dict[str, ServerObservation]
    tenants: dict[str, TenantObservation] = field(default_factory=dict)
    source: str = "memory"
    at: float = 0.0

    @property
    def is_snapshot(self) -> bool:
        return self.window_seconds <= 0
