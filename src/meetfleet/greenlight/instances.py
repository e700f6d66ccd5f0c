"""Which Greenlight instances a greenlight host runs, and the numbers each keeps.

One instance per tenant whose `greenlight` is the host (a dedicated Greenlight, its sites
the tenant's origin_server_names, its sign-in the tenant's sso_client), plus the shared
instance of individual members on the host that serves fleet_sso.shared_greenlight.

Ports and Redis databases are allocated, not computed from the list: an instance keeps
its numbers while it exists (the role stores them on the host), so adding or removing a
tenant never restarts another tenant's Greenlight. Pure: the role does the I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from meetfleet.fleet.model import SHARED_GREENLIGHT_CLIENT_ID, Gateway, Sso, Tenant

SHARED_INSTANCE = "shared"
MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1


class GreenlightError(ValueError):
    """The inventory asks for instances that cannot be made (names the key)."""


@dataclass(frozen=True)
class Instance:
    name: str  # the tenant's name, or "shared"
    kind: str  # dedicated | shared
    tenant: str  # whose gateway endpoint and secret it calls BBB with
    gateway_secret_variable: str  # that tenant's secret at the gateway
    bbb_server: str | None  # that tenant's server, called directly where no gateway is deployed
    site_names: tuple[str, ...]  # nginx server names, the first the site's own
    sso_client: str
    sso_secret_variable: str
    secret_variable: str  # the vault variable its SECRET_KEY_BASE and database password derive from
    db_name: str
    db_user: str
    unit: str

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "site_names": list(self.site_names)}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "_", name.lower())


def _identifier(prefix: str, name: str) -> str:
    """prefix + the name's slug, shortened with a digest past PostgreSQL's 63 characters."""
    full = prefix + slug(name)
    if len(full) <= MAX_IDENTIFIER:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return full[: MAX_IDENTIFIER - 9] + "_" + digest


def secret_variable(instance: str) -> str:
    """The vault variable an instance's SECRET_KEY_BASE and database password derive from."""
    return "vault_greenlight_secret_" + slug(instance)


def fleet_secret_variables(tenants: Iterable[Tenant], sso: Sso | None) -> list[str]:
    """Every instance's secret variable in the fleet: one per tenant with its own Greenlight,
    one for the shared instance if the realm has one (what `meetfleet lab up` makes)."""
    names = [tenant.name for tenant in tenants if tenant.greenlight is not None]
    if sso is not None and sso.shared_greenlight is not None:
        names.append(SHARED_INSTANCE)
    return sorted(secret_variable(name) for name in names)


def _instance(name: str, kind: str, tenant: Tenant, sites: Iterable[str], client: str) -> Instance:
    return Instance(
        name=name,
        kind=kind,
        tenant=tenant.name,
        gateway_secret_variable=Gateway.secret_variable(tenant.name),
        bbb_server=tenant.bbb_server,
        site_names=tuple(dict.fromkeys(site.lower() for site in sites)),
        sso_client=client,
        sso_secret_variable=Sso.secret_variable(client),
        secret_variable=secret_variable(name),
        db_name=_identifier("greenlight_", name),
        db_user=_identifier("greenlight_", name),
        unit=f"greenlight-{name}.service",
    )


def shared_host(sso: Sso | None, greenlight_hosts: Collection[str], explicit: str | None = None) -> str | None:
    """The greenlight host that runs the shared instance: `explicit` (greenlight_shared_host)
    if given; else the host named in fleet_sso.shared_greenlight if it is one of the group;
    else the group's only host. None when the realm has no shared Greenlight."""
    if sso is None or sso.shared_greenlight is None:
        return None
    if explicit:
        if explicit not in greenlight_hosts:
            raise GreenlightError(f"greenlight_shared_host: {explicit!r} is not a host in the greenlight group")
        return explicit
    site = (urlsplit(sso.shared_greenlight).hostname or "").lower()
    if site in greenlight_hosts:
        return site
    if len(greenlight_hosts) == 1:
        return next(iter(greenlight_hosts))
    raise GreenlightError(
        f"fleet_sso.shared_greenlight: {site!r} is not a greenlight host and the group has "
        f"{len(greenlight_hosts)}: set greenlight_shared_host to the one that serves it")


def dedicated_host(region: str, greenlight_hosts: Mapping[str, str], tenants: Iterable[Tenant]) -> str:
    """Where a new dedicated Greenlight of a tenant of `region` goes (`tenant add --greenlight
    dedicated`): the region's greenlight host running the fewest dedicated instances, ties by
    name. greenlight_hosts maps each host of the group to its region. Never another region's
    host (a member's data stays in its region): GreenlightError naming the ones there are."""
    candidates = sorted(host for host, host_region in greenlight_hosts.items() if host_region == region)
    if not candidates:
        elsewhere = ", ".join(f"{host} ({greenlight_hosts[host]})" for host in sorted(greenlight_hosts)) or "none"
        raise GreenlightError(f"--greenlight dedicated: region {region!r} has no host in the greenlight group "
                              f"(there are: {elsewhere}); name one with --greenlight HOST, or add one")
    load = Counter(tenant.greenlight for tenant in tenants if tenant.greenlight is not None)
    return min(candidates, key=lambda host: (load[host], host))


def host_instances(host: str, tenants: Iterable[Tenant], sso: Sso | None, greenlight_hosts: Collection[str],
                   shared_tenant: str | None = None, explicit_shared_host: str | None = None) -> list[Instance]:
    """The instances `host` runs, sorted by name (the module's docstring)."""
    tenants = list(tenants)
    known = {tenant.name: tenant for tenant in tenants}
    instances = []
    for tenant in sorted(tenants, key=lambda t: t.name):
        if tenant.greenlight != host:
            continue
        if tenant.name == SHARED_INSTANCE:
            raise GreenlightError(f"fleet_tenants.{tenant.name}: {SHARED_INSTANCE!r} is the shared Greenlight's "
                                  "instance name; a tenant with its own Greenlight needs another name")
        if tenant.sso_client is None or not tenant.origin_server_names:
            raise GreenlightError(f"fleet_tenants.{tenant.name}: a tenant with its own Greenlight needs sso_client "
                                  "and origin_server_names (its sites)")
        sites = [name.split(":")[0] for name in tenant.origin_server_names]
        instances.append(_instance(tenant.name, "dedicated", tenant, sites, tenant.sso_client))
    if shared_host(sso, greenlight_hosts, explicit_shared_host) == host:
        assert sso is not None and sso.shared_greenlight is not None
        if not shared_tenant:
            raise GreenlightError(
                f"greenlight_shared_tenant: {host} serves the shared Greenlight "
                "(fleet_sso.shared_greenlight); name the tenant its meetings count against at the gateway")
        if shared_tenant not in known:
            raise GreenlightError(f"greenlight_shared_tenant: {shared_tenant!r} is not a tenant of fleet_tenants")
        site = urlsplit(sso.shared_greenlight).hostname or ""
        instances.append(_instance(SHARED_INSTANCE, "shared", known[shared_tenant], [site],
                                   SHARED_GREENLIGHT_CLIENT_ID))
    _refuse_clashes(instances)
    return sorted(instances, key=lambda i: i.name)


def _refuse_clashes(instances: list[Instance]) -> None:
    owners: dict[tuple[str, str], str] = {}
    for instance in instances:
        for what, value in [("database", instance.db_name), *(("site", site) for site in instance.site_names)]:
            owner = owners.setdefault((what, value), instance.name)
            if owner != instance.name:
                raise GreenlightError(f"greenlight instances {owner!r} and {instance.name!r} would share the "
                                      f"{what} {value!r}: rename one tenant or change its origin_server_names")


def allocate(previous: Mapping[str, Mapping[str, int]] | None, names: Iterable[str], first_port: int,
             ports: int, redis_databases: int) -> dict[str, dict[str, int]]:
    """Each instance's {port, redis_db}: what `previous` gave it when still valid, else the
    lowest free numbers. Instances not in `names` give theirs back."""
    names = sorted(set(names))
    if len(names) > min(ports, redis_databases - 1):
        raise GreenlightError(f"greenlight: {len(names)} instances on one host, but only {ports} ports "
                              f"(greenlight_port_count) and {redis_databases - 1} Redis databases "
                              "(greenlight_redis_databases, database 0 left free)")
    kept: dict[str, dict[str, int]] = {}
    used_ports: set[int] = set()
    used_dbs: set[int] = set()
    for name in names:
        old = (previous or {}).get(name)
        old = old if isinstance(old, Mapping) else {}  # a hand-edited file's junk is given new numbers
        port, db = old.get("port"), old.get("redis_db")
        if (isinstance(port, int) and first_port <= port < first_port + ports and port not in used_ports
                and isinstance(db, int) and 1 <= db < redis_databases and db not in used_dbs):
            kept[name] = {"port": port, "redis_db": db}
            used_ports.add(port)
            used_dbs.add(db)
    for name in names:
        if name in kept:
            continue
        port = next(p for p in range(first_port, first_port + ports) if p not in used_ports)
        db = next(d for d in range(1, redis_databases) if d not in used_dbs)
        kept[name] = {"port": port, "redis_db": db}
        used_ports.add(port)
        used_dbs.add(db)
    return {name: kept[name] for name in names}
