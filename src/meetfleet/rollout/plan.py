"""Which playbooks, on which hosts, a change of one tenant needs: what `tenant add --apply`
and `tenant remove --apply` run. Pure: two fleets in (before and after the change), waves
of jobs out.

A tenant is read by (roles' defaults and templates):
- the gateway (its secret, plan and server: gateway_tenants), on every gateway host;
- Keycloak (its organization or group, its realm client), on every keycloak host;
- Nextcloud (its group, from the realm's claim), on every nextcloud host;
- its own Greenlight's host (its instance; the role retires one whose tenant left);
- the monitoring hosts, which probe its own Greenlight's site;
- in the lab only, its BBB server's API stand-in (its synthetic load) and the monitoring
  host's backfill of that load. A real BBB server knows nothing of tenants.
Everything but monitoring runs side by side (Greenlight asks Keycloak for its client only
when a user signs in); monitoring waits for them, since its probes watch what they made.
"""

from __future__ import annotations

from meetfleet.fleet.model import Fleet, Tenant
from meetfleet.rollout.run import Job


def _hosts(fleets: tuple[Fleet, ...], role: str) -> tuple[str, ...]:
    return tuple(sorted({name for fleet in fleets for name, host in fleet.hosts.items() if role in host.roles}))


def _job(playbook: str, hosts: tuple[str, ...]) -> list[Job]:
    return [Job(playbook, hosts)] if hosts else []


def tenant_rollout(before: Fleet, after: Fleet, name: str) -> list[list[Job]]:
    """The waves of jobs that bring the hosts from `before`'s tenant `name` to `after`'s
    (either may lack it: an addition, a removal). Empty when no host reads it."""
    fleets = (before, after)
    records: list[Tenant] = [fleet.tenants[name] for fleet in fleets if name in fleet.tenants]
    greenlight_hosts = tuple(sorted({t.greenlight for t in records if t.greenlight is not None}))
    lab_servers = tuple(sorted({t.bbb_server for t in records for fleet in fleets
                                if t.bbb_server in fleet.hosts and fleet.hosts[t.bbb_server].lab}))
    monitoring = _hosts(fleets, "monitoring")
    lab_monitoring = any(fleet.hosts[host].lab for fleet in fleets for host in monitoring if host in fleet.hosts)
    first = [
        *_job("gateway.yml", _hosts(fleets, "gateway") if before.gateway or after.gateway else ()),
        *_job("sso.yml", _hosts(fleets, "keycloak") if before.sso or after.sso else ()),
        *_job("nextcloud.yml", _hosts(fleets, "nextcloud")),
        *_job("greenlight.yml", greenlight_hosts),
        *_job("bbb.yml", lab_servers),
    ]
    second = _job("monitoring.yml", monitoring if greenlight_hosts or lab_monitoring else ())
    return [wave for wave in (first, second) if wave]
