"""The Keycloak realm the inventory asks for (docs/sso.md): its settings, one client per
site users sign in to, one organization per tenant. Pure: no I/O, no server.

The keycloak role reads the dict `desired_realm` returns (through its filter plugin,
roles/keycloak/filter_plugins/meetfleet_sso.py) and makes the realm so; the key names
are the contract between the two.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

from meetfleet.fleet.model import NEXTCLOUD_CLIENT_ID, SHARED_GREENLIGHT_CLIENT_ID, Fleet, Sso, SsoSmtp, Tenant
from meetfleet.fleet.sso_checks import SsoProblem, realm_problems, unique_problems

# Where each application receives the sign-in's answer, under its site's URL.
GREENLIGHT_CALLBACK_PATH = "/auth/openid_connect/callback"  # Greenlight 3's OpenID Connect callback
NEXTCLOUD_CALLBACK_PATH = "/apps/user_oidc/code"  # Nextcloud's user_oidc app


class RealmError(ValueError):
    """The tenants and SSO settings given cannot make a realm (each problem says why)."""

    def __init__(self, problems: list[SsoProblem]) -> None:
        self.problems = problems
        super().__init__("the realm cannot be computed: " + "; ".join(str(p) for p in problems))


def realm_of(fleet: Fleet) -> dict[str, Any] | None:
    """The realm of a validated fleet; None when the inventory has no fleet_sso."""
    if fleet.sso is None:
        return None
    nextcloud_hosts = [host.name for host in fleet.hosts.values() if "nextcloud" in host.roles]
    return desired_realm(fleet.sso, fleet.tenants.values(), nextcloud_hosts)


def desired_realm(sso: Sso, tenants: Iterable[Tenant], nextcloud_hosts: Collection[str] = ()) -> dict[str, Any]:
    """The realm for `sso` and `tenants` (`nextcloud_hosts`: the nextcloud group, for the
    Nextcloud site's URL when fleet_sso does not give it). Raises RealmError on what
    `meetfleet inventory check` refuses (two clients with one id, ...)."""
    tenants = sorted(tenants, key=lambda tenant: tenant.name)
    problems = [*unique_problems(tenants), *realm_problems(sso, tenants, nextcloud_hosts)]
    if problems:
        raise RealmError(problems)
    clients = [_greenlight_client(tenant) for tenant in tenants if tenant.greenlight is not None]
    nextcloud = sso.nextcloud_url(nextcloud_hosts)
    if nextcloud is not None:
        clients.append(_site_client(NEXTCLOUD_CLIENT_ID, "Nextcloud", "nextcloud", nextcloud, NEXTCLOUD_CALLBACK_PATH))
    if sso.shared_greenlight is not None:
        clients.append(
            _site_client(
                SHARED_GREENLIGHT_CLIENT_ID,
                "Greenlight (shared)",
                "shared-greenlight",
                sso.shared_greenlight,
                GREENLIGHT_CALLBACK_PATH,
            )
        )
    return {
        "realm": sso.realm,
        "display_name": sso.display_name,
        "public_url": sso.public_url.rstrip("/"),
        "registration_allowed": sso.registration_allowed,
        "verify_email": sso.verify_email,
        "password_policy": sso.password_policy,
        "brute_force_protected": sso.brute_force_protected,
        "smtp": _smtp(sso.smtp),
        "clients": sorted(clients, key=lambda client: client["client_id"]),
        "organizations": [_organization(tenant) for tenant in tenants],
    }


def _smtp(smtp: SsoSmtp | None) -> dict[str, Any]:
    """Keycloak's mail settings; {} without smtp. `user` and `password_variable` only when
    the server wants a login (never null: a template's `| default('')` reads their absence)."""
    if smtp is None:
        return {}
    login = {} if smtp.user is None else {"user": smtp.user, "password_variable": smtp.password_variable}
    return {
        "host": smtp.host,
        "port": smtp.port,
        "from": smtp.sender,
        "starttls": smtp.starttls,
        "ssl": smtp.ssl,
        **login,
    }


def _origin(url: str) -> str:
    """A URL's web origin: scheme, host and port, lowercase, no path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _site_client(client_id: str, name: str, kind: str, url: str, callback_path: str) -> dict[str, Any]:
    """The client of one of the cooperative's own sites at `url` (a path prefix kept)."""
    root = _origin(url) + urlsplit(url).path.rstrip("/")
    return {
        "client_id": client_id,
        "name": name,
        "kind": kind,
        "tenant": None,
        "root_url": root,
        "redirect_uris": [root + callback_path],
        "web_origins": [_origin(url)],
        "secret_variable": Sso.secret_variable(client_id),
    }


def _greenlight_client(tenant: Tenant) -> dict[str, Any]:
    """A tenant's own Greenlight: its sso_client, one redirect URI and web origin per site
    name (origin_server_names, in the inventory's order, the first as its root)."""
    assert tenant.sso_client is not None  # realm_problems refuses a Greenlight without one
    sites = list(dict.fromkeys(f"https://{name.lower()}" for name in tenant.origin_server_names))
    return {
        "client_id": tenant.sso_client,
        "name": f"Greenlight of {tenant.name}",
        "kind": "greenlight",
        "tenant": tenant.name,
        "root_url": sites[0],
        "redirect_uris": [site + GREENLIGHT_CALLBACK_PATH for site in sites],
        "web_origins": sites,
        "secret_variable": Sso.secret_variable(tenant.sso_client),
    }


def _organization(tenant: Tenant) -> dict[str, Any]:
    """A tenant as an organization of the realm. `members_group` holds its users; the members of
    `admin_group` administer them (and its Greenlight), nothing else in the realm."""
    return {
        "name": tenant.name,
        "alias": tenant.name,
        "description": f"Member organisation {tenant.name}",
        "domains": sorted(tenant.sso_domains),
        "admin_group": f"{tenant.name}-admins",
        "members_group": f"{tenant.name}-members",
    }
