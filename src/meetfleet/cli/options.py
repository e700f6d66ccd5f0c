"""The options commands share, taken the same way everywhere: the inventory directory
(`--inventory/-i`, default inventories/lab) and the capacity source (`--prometheus`,
`--exporter`, `--window`, `--headroom`, `--timeout`, turned into `observe` and `settings`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import click

from meetfleet.capacity_sources.resolve import (
    DEFAULT_TIMEOUT_SECONDS,
    EXPORTER_ENV,
    NO_SOURCE_MESSAGE,
    PROMETHEUS_ENV,
    NoSourceError,
    Source,
    SourceConfigError,
    parse_duration,
    read_source,
    resolve_source,
)
from meetfleet.cli.output import bad_input
from meetfleet.fleet import Fleet
from meetfleet.placement import Observations, PlacementSettings
from meetfleet.placement.spare import DEFAULT_HEADROOM, DEFAULT_WINDOW_SECONDS

DEFAULT_INVENTORY = Path("inventories/lab")


def inventory_option(func: Callable | None = None, *, default: str | None = str(DEFAULT_INVENTORY),
                     help: str = "Inventory directory.") -> Callable:
    """`--inventory/-i DIR` as every command takes it (`inventory_dir`); default inventories/lab."""
    option = click.option("--inventory", "-i", "inventory_dir", default=default, show_default=default is not None,
                          type=click.Path(file_okay=False, path_type=Path), help=help)
    return option if func is None else option(func)


@dataclass(frozen=True)
class Observe:
    """Reads the capacity source the options, the environment or the fleet name (in that order)."""

    prometheus: str | None
    exporter: str | None
    window_seconds: float
    timeout: float
    inventory_dir: Path | None

    def source(self, fleet: Fleet) -> Source | None:
        """The source to read; None when none is configured anywhere. Bad configuration: exit 2."""
        try:
            return resolve_source(self.prometheus, self.exporter, fleet.capacity_source, self.inventory_dir)
        except NoSourceError:
            return None
        except SourceConfigError as exc:
            bad_input(str(exc), kind="bad_capacity_source")

    def __call__(self, fleet: Fleet) -> Observations:
        source = self.source(fleet)
        if source is None:
            bad_input(NO_SOURCE_MESSAGE, kind="no_capacity_source")
        return read_source(source, self.window_seconds, self.timeout)  # SourceError: exit 1 (output.py)

    def if_configured(self, fleet: Fleet) -> Observations | None:
        source = self.source(fleet)
        return None if source is None else read_source(source, self.window_seconds, self.timeout)


def capacity_source_options(func: Callable) -> Callable:
    """--prometheus/--exporter/--window/--headroom/--timeout, turned into `observe` and `settings`.

    The command must also take --inventory: the inventory's fleet_capacity_source is read
    when neither a flag nor the environment names a source.
    """

    @click.option("--prometheus", metavar="URL", help=f"Prometheus base URL (or ${PROMETHEUS_ENV}; "
                                                      "else the inventory's fleet_capacity_source).")
    @click.option("--exporter", metavar="URL", help=f"Capacity exporter URL, used without Prometheus "
                                                    f"(or ${EXPORTER_ENV}).")
    @click.option("--window", default=f"{DEFAULT_WINDOW_SECONDS // 86400}d", show_default=True,
                  help="Window of observed peaks (Prometheus only), e.g. 28d, 14d; a week or more gives "
                       "peaks per hour of the week (Prometheus must retain that much).")
    @click.option("--headroom", type=click.FloatRange(0, 1, max_open=True), default=DEFAULT_HEADROOM,
                  show_default=True, help="Share of each server's capacity kept free.")
    @click.option("--timeout", type=click.FloatRange(0.1, 300), default=DEFAULT_TIMEOUT_SECONDS,
                  show_default=True, help="Seconds to wait for each HTTP call.")
    @wraps(func)
    def wrapper(*args: Any, prometheus: str | None, exporter: str | None, window: str, headroom: float,
                timeout: float, **kwargs: Any) -> Any:
        try:
            window_seconds = parse_duration(window)
        except ValueError as exc:
            bad_input(f"--window: {exc}")
        observe = Observe(prometheus, exporter, window_seconds, timeout, kwargs.get("inventory_dir"))
        return func(*args, observe=observe, settings=PlacementSettings(headroom=headroom), **kwargs)

    return wrapper
