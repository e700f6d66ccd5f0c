"""Whether a BBB server can take a tenant that is moved to it (`meetfleet tenant move`), or
one of its own tenants under a bigger plan (`meetfleet tenant plan`).

The same rule as a newcomer's placement: the tenant's expected week must fit in the
server's spare capacity at every hour, on an up, active server of its region. `--force`
skips only the capacity part, never the server's state: a cordoned or draining server
takes no tenant, nor does one the capacity source says is down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from meetfleet.fleet import Fleet, ServerState, Tenant
from meetfleet.placement.decide import Decision, evaluate
from meetfleet.placement.expected import ExpectedLoad, tenant_expected_load
from meetfleet.placement.observations import Observations
from meetfleet.placement.spare import LoadModel, PlacementSettings

REFUSING_STATES = (ServerState.CORDONED, ServerState.DRAINING)  # retired: the inventory refuses it


class _Verdict:
    """What both verdicts answer from their `reasons` and `decision`."""

    reasons: tuple[str, ...]
    decision: Decision | None

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def best(self) -> str | None:
        """The server placement would choose for the tenant now, if the capacity was checked."""
        return self.decision.chosen if self.decision else None


@dataclass(frozen=True)
class MoveVerdict(_Verdict):
    target: str
    reasons: tuple[str, ...]  # why the target cannot take the tenant; empty when it can
    expected: ExpectedLoad | None = None  # the tenant's expected week (None: capacity not checked)
    decision: Decision | None = None  # every server ranked for the tenant (None: capacity not checked)


def state_refusal(fleet: Fleet, target: str) -> str | None:
    """Why the target's state refuses any tenant, even a forced one (None: it does not)."""
    host = fleet.bbb_servers[target]
    assert host.bbb is not None
    if host.bbb.state in REFUSING_STATES:
        return f"{target} is {host.bbb.state.value}: it takes no new tenants, even with --force (uncordon it first)"
    return None


def up_refusal(observations: Observations, target: str) -> str | None:
    """Why the capacity source says the target is down (None: it is up)."""
    seen = observations.servers.get(target)
    if seen is not None and seen.up:
        return None
    why = "no observation from the capacity source" if seen is None else "meetfleet_server_up is 0"
    return f"{target} is down ({why})"


def check_move(fleet: Fleet, observations: Observations, tenant: Tenant, target: str,
               settings: PlacementSettings | None = None) -> MoveVerdict:
    """Can `target` take `tenant`'s expected peak at every hour (placement's rule)?"""
    settings = settings or PlacementSettings()
    expected = LoadModel(fleet, observations, settings).tenant(tenant)
    decision = evaluate(fleet, observations, tenant.region, expected, settings, moving=tenant)
    candidate = next(c for c in decision.candidates if c.server == target)
    return MoveVerdict(target, candidate.reasons, expected, decision)


def check_forced_move(fleet: Fleet, observations: Observations | None, target: str) -> MoveVerdict:
    """--force: the target's state and whether it is up (when a source is known), not its capacity."""
    reasons = [reason for reason in (state_refusal(fleet, target),
                                     up_refusal(observations, target) if observations is not None else None)
               if reason]
    return MoveVerdict(target, tuple(reasons[:1]))


@dataclass(frozen=True)
class PlanVerdict(_Verdict):
    """Whether a tenant's server can take it under another plan (`meetfleet tenant plan`)."""

    server: str | None
    bigger: bool  # the new plan lets it use more (more concurrent users); False: always fits
    reasons: tuple[str, ...] = ()  # why its server cannot take it; empty when it can
    expected: ExpectedLoad | None = None  # its expected week at the new plan (None: not checked)
    decision: Decision | None = None  # every server ranked for it at the new plan (None: not checked)


def is_bigger_plan(fleet: Fleet, old: str, new: str) -> bool:
    """More concurrent users is more expected load (placement's expected peak grows with them);
    rooms and minutes do not enter placement's expected load."""
    return fleet.plans[new].max_concurrent_users > fleet.plans[old].max_concurrent_users


def check_plan_change(fleet: Fleet, observations: Observations, tenant: Tenant, plan: str,
                      settings: PlacementSettings | None = None) -> PlanVerdict:
    """Can the tenant's server take it under `plan`? Placement's rule, with the tenant counted as
    recent on its server: its expected week at the new plan (the plan's week raised hour by hour
    to what it has shown; never its history alone, which was measured under the old caps) must
    fit the server's spare at every hour, the tenant's own share of that spare left out.

    Its present load is also in its server's observed peaks (they cannot be split by tenant),
    so on its own server that load counts twice: this errs on the safe side, by at most what the
    tenant uses now. A smaller plan always fits (nothing is asked)."""
    if not is_bigger_plan(fleet, tenant.plan, plan) or tenant.bbb_server is None:
        return PlanVerdict(tenant.bbb_server, bigger=is_bigger_plan(fleet, tenant.plan, plan))
    settings = settings or PlacementSettings()
    changed = tenant.model_copy(update={"plan": plan})
    model = LoadModel(fleet, observations, settings)
    week = model.plan_week(plan, model.timezone(changed))
    # needed_seconds = inf: no history is ever enough, so the new plan's week is the floor.
    expected = tenant_expected_load(week, observations.tenants.get(tenant.name), math.inf)
    decision = evaluate(fleet, observations, tenant.region, expected, settings, moving=changed, model=model)
    own = next(c for c in decision.candidates if c.server == tenant.bbb_server)
    return PlanVerdict(tenant.bbb_server, True, own.reasons, expected, decision)
