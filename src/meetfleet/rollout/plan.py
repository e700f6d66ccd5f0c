"""Which playbooks, on which hosts, a change of one tenant needs: what `tenant add|move|plan|
remove --apply` run. Pure: two fleets in (before and after the change), waves of jobs out.

Each reader of a tenant, and the fields of its record it reads (READS; an added or removed
tenant concerns every reader):
- the gateway (caps from the plan and limits, its server, region), on every gateway host;
- Keycloak (its organization and mail domains, its realm client and redirect URIs), on
  every keycloak host;
- Nextcloud (its group, from the realm's claim: only whether the tenant exists);
- its own Greenlight's host, before and after (its instance; the role retires a departed one);
- the monitoring hosts: the capacity exporter there reads the whole inventory (tenants
  attributed by name and origin server names) and the probes watch its own Greenlight's site;
- in the lab only, its BBB server's API stand-in (its synthetic load, from plan and time
  zone). A real BBB server reads no tenant.
Everything but monitoring runs side by side (Greenlight asks Keycloak for its client only
when a user signs in); monitoring waits for them, since its probes watch what they made.
"""

from __future__ import annotations

from meetfleet.fleet.model import Fleet, Tenant
from meetfleet.rollout.run import Job

READS: dict[str, frozenset[str]] = {
    "gateway": frozenset({"plan", "limits", "bbb_server", "region"}),
    "keycloak": frozenset({"greenlight", "sso_client", "origin_server_names", "sso_domains"}),
    "nextcloud": frozenset(),
    "greenlight": frozenset({"greenlight", "sso_client", "origin_server_names", "bbb_server"}),
    "monitoring": frozenset(Tenant.model_fields),  # the exporter's copy of the inventory: all of it
    "lab_bbb": frozenset({"bbb_server", "plan", "timezone", "region"}),
}


def changed_fields(before: Tenant | None, after: Tenant | None) -> frozenset[str] | None:
    """The record's fields that differ; None when the tenant is added or removed (all of it)."""
    if before is None or after is None:
        return None if before is not after else frozenset()
    old, new = before.model_dump(), after.model_dump()
    return frozenset(key for key in old if old[key] != new[key])


def _hosts(fleets: tuple[Fleet, ...], role: str) -> tuple[str, ...]:
    return tuple(sorted({name for fleet in fleets for name, host in fleet.hosts.items() if role in host.roles}))


def _job(playbook: str, hosts: tuple[str, ...]) -> list[Job]:
    return [Job(playbook, hosts)] if hosts else []


def tenant_rollout(before: Fleet, after: Fleet, name: str) -> list[list[Job]]:
    """The waves of jobs that bring the hosts from `before`'s tenant `name` to `after`'s
    (either may lack it: an addition, a removal). Empty when no reader's fields changed."""
    return readers_of(before, after, name, changed_fields(before.tenants.get(name), after.tenants.get(name)))


def readers_of(before: Fleet, after: Fleet, name: str, changed: frozenset[str] | None) -> list[list[Job]]:
    """The waves of jobs for the readers of tenant `name`'s `changed` fields (None: all of
    it), on the hosts of both fleets: how a rerun applies a change already recorded."""
    fleets = (before, after)
    records: list[Tenant] = [fleet.tenants[name] for fleet in fleets if name in fleet.tenants]

    def reads(reader: str) -> bool:
        return changed is None or bool(changed & READS[reader])

    greenlight_hosts = tuple(sorted({t.greenlight for t in records if t.greenlight is not None}))
    lab_servers = tuple(sorted({t.bbb_server for t in records for fleet in fleets
                                if t.bbb_server in fleet.hosts and fleet.hosts[t.bbb_server].lab}))
    first = [
        *_job("gateway.yml", _hosts(fleets, "gateway") if (before.gateway or after.gateway) and reads("gateway")
              else ()),
        *_job("sso.yml", _hosts(fleets, "keycloak") if (before.sso or after.sso) and reads("keycloak") else ()),
        *_job("nextcloud.yml", _hosts(fleets, "nextcloud") if reads("nextcloud") else ()),
        *_job("greenlight.yml", greenlight_hosts if reads("greenlight") else ()),
        *_job("bbb.yml", lab_servers if reads("lab_bbb") else ()),
    ]
    second = _job("monitoring.yml", _hosts(fleets, "monitoring") if reads("monitoring") else ())
    return [wave for wave in (first, second) if wave]
