"""Capacity sources: where the fleet's observed load is read from, for placement.

Prometheus (history: peaks per hour of the week) or the capacity exporter's /metrics (a
snapshot), chosen by flags, the environment or the inventory's fleet_capacity_source
(resolve.py). Readers turn answers into placement's Observations; they are the only
HTTP clients of placement's inputs, so the placement model itself stays pure.
"""

from meetfleet.capacity_sources.errors import NoSourceError, SourceConfigError, SourceError
from meetfleet.capacity_sources.resolve import Source, read_observations, read_source, resolve_source

__all__ = ["NoSourceError", "Source", "SourceConfigError", "SourceError", "read_observations", "read_source",
           "resolve_source"]
