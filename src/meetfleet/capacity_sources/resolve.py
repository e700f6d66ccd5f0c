"""Where observations come from: Prometheus (with history) or the exporter (a snapshot).

Which source, first found wins: the --prometheus/--exporter flags, then
MEETFLEET_PROMETHEUS_URL/MEETFLEET_EXPORTER_URL, then the inventory's
fleet_capacity_source. Passwords never come from a command line: from the environment, or
(for the inventory's source) from the inventory variable its password_variable names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from meetfleet.capacity_sources.errors import NoSourceError, SourceConfigError
from meetfleet.fleet.model import CapacitySource
from meetfleet.placement.observations import Observations

PROMETHEUS_ENV = "MEETFLEET_PROMETHEUS_URL"
EXPORTER_ENV = "MEETFLEET_EXPORTER_URL"
INVENTORY_KEY = "fleet_capacity_source"
# Basic-auth credentials: from the environment only, never argv. The CAPACITY_ names serve
# every source; the EXPORTER_ names are the older ones, still read for the exporter.
CAPACITY_USER_ENV = "MEETFLEET_CAPACITY_USERNAME"
CAPACITY_PASSWORD_ENV = "MEETFLEET_CAPACITY_PASSWORD"  # noqa: S105 - the variable's name, not a secret
EXPORTER_USER_ENV = "MEETFLEET_EXPORTER_USERNAME"
EXPORTER_PASSWORD_ENV = "MEETFLEET_EXPORTER_PASSWORD"  # noqa: S105 - the variable's name, not a secret
DEFAULT_TIMEOUT_SECONDS = 10.0

NO_SOURCE_MESSAGE = (f"no capacity source: give --prometheus URL or --exporter URL, or set {PROMETHEUS_ENV} or "
                     f"{EXPORTER_ENV}, or set {INVENTORY_KEY} (kind, url) in the inventory's group_vars/all")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Source:
    """A capacity source resolved: what to contact and how."""

    kind: Literal["prometheus", "exporter"]
    url: str
    origin: str  # where it was configured, for messages
    auth: tuple[str, str] | None = None
    verify: str | bool = True  # a CA file, or the system's trust


def parse_duration(text: str) -> float:
    """'90s', '30m', '12h', '14d', '2w' to seconds. ValueError names what is wrong."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 12h, 14d or 2w")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _env_auth(kind: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    user = environ.get(CAPACITY_USER_ENV) or (environ.get(EXPORTER_USER_ENV) if kind == "exporter" else None)
    if not user:
        return None
    return user, _env_password(kind, environ) or ""


def _env_password(kind: str, environ: Mapping[str, str]) -> str | None:
    return environ.get(CAPACITY_PASSWORD_ENV) or (
        environ.get(EXPORTER_PASSWORD_ENV) if kind == "exporter" else None) or None


def _inventory_source(source: CapacitySource, inventory_dir: Path, environ: Mapping[str, str]) -> Source:
    origin = f"{INVENTORY_KEY} of {inventory_dir}"
    auth = None
    if source.username:
        password = _env_password(source.kind, environ)
        if password is None and source.password_variable:
            from meetfleet.fleet.vault import read_fleet_secret

            password = read_fleet_secret(inventory_dir, source.password_variable)
        if password is None:
            raise SourceConfigError(f"{INVENTORY_KEY}.username is set but there is no password: set "
                                    f"{CAPACITY_PASSWORD_ENV}, or password_variable to a vault variable")
        auth = (source.username, password)
    elif source.password_variable:
        raise SourceConfigError(f"{INVENTORY_KEY}.password_variable is set without a username")
    verify: str | bool = True
    if source.ca_file:
        # Relative to the inventory, so the inventory means the same from any working directory.
        ca_file = Path(source.ca_file)
        ca_file = ca_file if ca_file.is_absolute() else inventory_dir / ca_file
        if not ca_file.is_file():
            raise SourceConfigError(f"{INVENTORY_KEY}.ca_file: {ca_file} is not a file")
        verify = str(ca_file)
    return Source(source.kind, source.url, origin, auth, verify)


def resolve_source(prometheus: str | None, exporter: str | None, configured: CapacitySource | None = None,
                   inventory_dir: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Source:
    """The source to read, by precedence: flags, environment, inventory. SourceConfigError if none."""
    environ = os.environ if environ is None else environ
    for kind, url, origin in (("prometheus", prometheus, "--prometheus"), ("exporter", exporter, "--exporter"),
                              ("prometheus", environ.get(PROMETHEUS_ENV), PROMETHEUS_ENV),
                              ("exporter", environ.get(EXPORTER_ENV), EXPORTER_ENV)):
        if url:
            return Source(kind, url, origin, _env_auth(kind, environ))  # type: ignore[arg-type]
    if configured is not None and inventory_dir is not None:
        return _inventory_source(configured, Path(inventory_dir), environ)
    raise NoSourceError(NO_SOURCE_MESSAGE)


def read_source(source: Source, window_seconds: float, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Observations:
    """Observations from `source`. SourceError when it cannot be read."""
    if source.kind == "prometheus":
        from meetfleet.capacity_sources.prometheus import read_prometheus

        return read_prometheus(source.url, window_seconds, timeout, auth=source.auth, verify=source.verify)
    from meetfleet.capacity_sources.exporter import read_exporter

    return read_exporter(source.url, timeout, auth=source.auth, verify=source.verify)


def read_observations(prometheus: str | None, exporter: str | None, window_seconds: float,
                      timeout: float = DEFAULT_TIMEOUT_SECONDS, *, configured: CapacitySource | None = None,
                      inventory_dir: str | Path | None = None) -> Observations:
    """Observations from the first source configured (flags, environment, inventory).

    Raises SourceConfigError (a ValueError) when none is, SourceError when the source fails.
    """
    return read_source(resolve_source(prometheus, exporter, configured, inventory_dir), window_seconds, timeout)
