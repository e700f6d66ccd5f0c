"""What the inventory must hold for the single sign-on realm (docs/sso.md): each rule once,
for `meetfleet inventory check` (the loader places each problem at its file and line) and
for the keycloak role's filter (roles/keycloak/filter_plugins/meetfleet_sso.py).

Pure: tenants, the SSO settings and group members in, problems out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from meetfleet.fleet.model import RESERVED_CLIENT_IDS, Sso, Tenant


@dataclass(frozen=True)
class SsoProblem:
    """One thing wrong for the realm: `key` of tenant `tenant`'s record, or of fleet_sso
    when `tenant` is None."""

    tenant: str | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"fleet_tenants.{self.tenant}" if self.tenant is not None else "fleet_sso"
        return f"{where}.{self.key}: {self.message}"


def greenlight_problem(tenant: Tenant, greenlight_hosts: Collection[str]) -> str | None:
    """Why tenant's `greenlight` is wrong, or None: it must be a host of the greenlight group."""
    if tenant.greenlight is not None and tenant.greenlight not in greenlight_hosts:
        return f"{tenant.greenlight!r} is not a host in the greenlight group"
    return None


def unique_problems(tenants: Iterable[Tenant]) -> Iterator[SsoProblem]:
    """A Keycloak client id names one client: no two tenants' sso_client alike, none the id
    of one of the realm's own clients (Nextcloud, the shared Greenlight). A mail domain
    belongs to one organization: no two tenants' sso_domains share one."""
    client_owners: dict[str, str] = {}
    domain_owners: dict[str, str] = {}
    for tenant in tenants:
        for domain in tenant.sso_domains:
            owner = domain_owners.setdefault(domain, tenant.name)
            if owner != tenant.name:
                yield SsoProblem(
                    tenant.name,
                    "sso_domains",
                    f"{domain!r} is also in tenant {owner!r}'s: a mail domain belongs to one organization of the realm",
                )
        client_id = tenant.sso_client
        if client_id is None:
            continue
        if client_id in RESERVED_CLIENT_IDS:
            yield SsoProblem(
                tenant.name,
                "sso_client",
                f"{client_id!r} is the id of {RESERVED_CLIENT_IDS[client_id]} "
                "(fleet_sso): a client id names one client",
            )
            continue
        owner = client_owners.setdefault(client_id, tenant.name)
        if owner != tenant.name:
            yield SsoProblem(
                tenant.name,
                "sso_client",
                f"{client_id!r} is also the sso_client of tenant {owner!r}: a client id names one client",
            )


def realm_problems(sso: Sso, tenants: Iterable[Tenant], nextcloud_hosts: Collection[str]) -> Iterator[SsoProblem]:
    """What stops the realm from being computed, beyond each value's own check and
    `unique_problems`: a tenant with its own Greenlight needs its client's id and its
    site's names; the Nextcloud site must be known; no two clients share a secret's variable."""
    if sso.nextcloud is None and len(set(nextcloud_hosts)) > 1:
        yield SsoProblem(
            None,
            "nextcloud",
            f"is required: the nextcloud group has {len(set(nextcloud_hosts))} hosts "
            f"({', '.join(sorted(set(nextcloud_hosts)))}), say which site users "
            "sign in to (https://...)",
        )
    secret_owners = {Sso.secret_variable(client_id): client_id for client_id in RESERVED_CLIENT_IDS}
    for tenant in tenants:
        if tenant.greenlight is None:
            continue
        if tenant.sso_client is None:
            yield SsoProblem(
                tenant.name,
                "sso_client",
                "is required: the tenant has its own Greenlight "
                f"({tenant.greenlight}), which signs in with its own client",
            )
            continue
        if not tenant.origin_server_names:
            yield SsoProblem(
                tenant.name,
                "origin_server_names",
                "is required: the tenant has its own Greenlight, "
                "and its site's host names are its client's "
                "redirect URIs",
            )
        variable = Sso.secret_variable(tenant.sso_client)
        other = secret_owners.setdefault(variable, tenant.sso_client)
        if other != tenant.sso_client:
            yield SsoProblem(
                tenant.name,
                "sso_client",
                f"{tenant.sso_client!r} and {other!r} would share the "
                f"vault variable {variable}: choose client ids that differ "
                "in more than punctuation",
            )
