"""A tenant's expected load, hour by hour of the week: from its plan until it has history.

Why: a plan is a cap, not a forecast. Members rarely use all of it at once, so the plan
alone overbooks servers; a measured week (office hours, weekly assemblies) is the best
predictor of the next one. Until a tenant has enough history (half the window), its plan at
PEAK_CONCURRENCY_FACTOR of the cap, spread over a typical week in its time zone
(profile.office_week), is the estimate, raised hour by hour to what it has already shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import gt
from typing import Literal

from meetfleet.capacity.load import users_to_load
from meetfleet.fleet import Plan
from meetfleet.placement.observations import TenantObservation
from meetfleet.placement.profile import Profile, flat, peak

# Share of a plan's concurrent-user cap a tenant is expected to reach at its peak before
# it has history. Members buy a plan for their biggest day; their usual office-hour peak
# is about half of it. 0.6 errs on the safe side; history replaces it within a week.
PEAK_CONCURRENCY_FACTOR = 0.6

Basis = Literal["plan", "history", "plan+partial history"]


@dataclass(frozen=True)
class ExpectedLoad:
    load: float  # the peak of the week
    basis: Basis
    # Per hour of the week (see profile.py); None: `load` at every hour.
    profile: Profile | None = None

    @property
    def hourly(self) -> Profile:
        return self.profile if self.profile is not None else flat(self.load)


def plan_expected_load(plan: Plan, factor: float = PEAK_CONCURRENCY_FACTOR) -> float:
    """Load units of a tenant of `plan` at its expected peak (no history yet)."""
    return users_to_load(round(plan.max_concurrent_users * factor))


def has_history(seconds: float, needed_seconds: float) -> bool:
    """Enough is covered for the measured week to be trusted (never for a snapshot)."""
    return 0 < needed_seconds <= seconds


def tenant_expected_load(prior: Profile, observed: TenantObservation | None, needed_seconds: float) -> ExpectedLoad:
    """Expected week of one tenant, with the basis it comes from (for --explain).

    `prior`: its plan's expected week in its time zone; `needed_seconds`: how much
    history makes its own measured week replace the plan.
    """
    prior_peak = peak(prior)
    if observed is None:
        return ExpectedLoad(prior_peak, "plan", prior)
    if has_history(observed.history_seconds, needed_seconds):
        measured = observed.profile if observed.profile is not None else flat(observed.peak_load)
        return ExpectedLoad(peak(measured), "history", measured)
    if observed.profile is not None:
        raised = tuple([o if o > p else p for p, o in zip(prior, observed.profile, strict=True)]) \
            if any(map(gt, observed.profile, prior)) else prior
    elif observed.peak_load > prior_peak > 0:
        # Its peak, at an unknown hour: the plan's week scaled up to it.
        scale = observed.peak_load / prior_peak
        raised = tuple(map(scale.__mul__, prior))
    elif observed.peak_load > prior_peak:
        raised = flat(observed.peak_load)
    else:
        raised = prior
    if raised is prior:
        return ExpectedLoad(prior_peak, "plan", prior)
    return ExpectedLoad(peak(raised), "plan+partial history", raised)
