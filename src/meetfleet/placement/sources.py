"""Where observations come from: Prometheus (with history) or the exporter (a snapshot)."""

from __future__ import annotations

import os
import re

from meetfleet.placement.observations import Observations

PROMETHEUS_ENV = "MEETFLEET_PROMETHEUS_URL"
EXPORTER_ENV = "MEETFLEET_EXPORTER_URL"
# Basic-auth credentials of the exporter's /metrics: from the environment only, never argv.
EXPORTER_USER_ENV = "MEETFLEET_EXPORTER_USERNAME"
EXPORTER_PASSWORD_ENV = "MEETFLEET_EXPORTER_PASSWORD"  # noqa: S105 - the variable's name, not a secret
DEFAULT_TIMEOUT_SECONDS = 10.0

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SourceError(Exception):
    """The capacity source could not be read (unreachable, refused, malformed answer)."""


def parse_duration(text: str) -> float:
    """'90s', '30m', '12h', '14d', '2w' to seconds. ValueError names what is wrong."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 12h, 14d or 2w")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def read_observations(prometheus: str | None, exporter: str | None, window_seconds: float,
                      timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Observations:
    """Observations from Prometheus if given (or in the environment), else from the exporter.

    Raises ValueError when neither is configured, SourceError when the source fails.
    """
    prometheus = prometheus or os.environ.get(PROMETHEUS_ENV) or None
    exporter = exporter or os.environ.get(EXPORTER_ENV) or None
    if prometheus:
        from meetfleet.placement.prometheus import read_prometheus

        return read_prometheus(prometheus, window_seconds, timeout)
    if exporter:
        from meetfleet.placement.exporter_metrics import read_exporter

        auth = None
        if os.environ.get(EXPORTER_USER_ENV):
            auth = (os.environ[EXPORTER_USER_ENV], os.environ.get(EXPORTER_PASSWORD_ENV, ""))
        return read_exporter(exporter, timeout, auth)
    raise ValueError(f"no capacity source: give --prometheus URL or --exporter URL "
                     f"(or set {PROMETHEUS_ENV} or {EXPORTER_ENV})")
