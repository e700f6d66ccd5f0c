"""Tenant placement: expected load, spare capacity, the decision and its sources.

A tenant's load lasts for months and peaks at the same office hours as its neighbours',
so placement reasons about peaks per hour of the week over a window (profile.py), not
about the load of the moment.
See docs/placement.md for the model and the simulation that compares it.
"""

from meetfleet.placement.decide import Candidate, Decision, place
from meetfleet.placement.expected import (
    PEAK_CONCURRENCY_FACTOR,
    ExpectedLoad,
    plan_expected_load,
    tenant_expected_load,
)
from meetfleet.placement.observations import Observations, ServerObservation, TenantObservation
from meetfleet.placement.spare import PlacementSettings, ServerSpare, server_spares

__all__ = [
    "PEAK_CONCURRENCY_FACTOR",
    "Candidate",
    "Decision",
    "ExpectedLoad",
    "Observations",
    "PlacementSettings",
    "ServerObservation",
    "ServerSpare",
    "TenantObservation",
    "place",
    "plan_expected_load",
    "server_spares",
    "tenant_expected_load",
]
