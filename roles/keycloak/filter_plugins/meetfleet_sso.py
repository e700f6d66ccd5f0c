"""The realm the inventory asks for, as the keycloak role reads it (docs/sso.md).

In the role (defaults/main.yml)::

    keycloak_realm: "{{ fleet_sso | meetfleet_keycloak_realm(fleet_tenants, groups, hostvars) }}"

`fleet_sso` and `fleet_tenants` are the inventory's variables, `groups` Ansible's (the
greenlight group holds the tenants' Greenlight hosts; the nextcloud group's one host is the
Nextcloud site when fleet_sso.nextcloud is not given). `hostvars` is accepted so the call
reads like the role's other lookups; the realm needs nothing per host and it is not read.

The value is meetfleet.sso.realm.desired_realm's dict: realm, display_name, public_url,
registration_allowed, verify_email, password_policy, brute_force_protected, smtp ({} or
host, port, from, starttls, ssl, and user and password_variable when it wants a login),
clients (sorted by client_id: client_id, name, kind, tenant, root_url, redirect_uris,
web_origins, secret_variable) and organizations (one per tenant, sorted: name, alias,
description, domains, admin_group, members_group). No secret is in it: only the names of the vault
variables that hold them.

Thin on purpose: the values are validated by the fleet model (meetfleet.fleet.model) and
the realm computed by meetfleet.sso, exactly as `meetfleet inventory check` does; what is
wrong is an AnsibleFilterError naming the key (fleet_sso.smtp.port, fleet_tenants.NAME.
sso_client, ...). The controller's venv has meetfleet installed (pip install -e .).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from pydantic import ValidationError

    from meetfleet.fleet.loader import validation_message
    from meetfleet.fleet.model import Sso, Tenant
    from meetfleet.fleet.sso_checks import greenlight_problem
    from meetfleet.fleet.yamlio import label
    from meetfleet.sso.realm import RealmError, desired_realm
except ImportError as exc:  # reported when the filter is used, not when Ansible loads plugins
    MEETFLEET_MISSING: ImportError | None = exc
else:
    MEETFLEET_MISSING = None


def _plain(value: Any) -> Any:
    """Ansible's values as plain Python (its strings, mappings and lists are subclasses,
    tagged): what the fleet model reads from YAML."""
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(
            f"meetfleet_keycloak_realm: {name} must be a mapping, not {type(value).__name__} "
            f"(is {name} defined in group_vars/all/?)"
        )
    return _plain(value)


def _validated(model: type, data: dict[str, Any], key: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            ".".join([key, *(label(part) if isinstance(part, str) else str(part) for part in error["loc"])])
            + f": {validation_message(error)}"
            for error in exc.errors()
        ]
        raise AnsibleFilterError("meetfleet_keycloak_realm: " + "; ".join(problems)) from None


def keycloak_realm(fleet_sso: Any, fleet_tenants: Any = None, groups: Any = None, hostvars: Any = None) -> dict:
    """The realm for `fleet_sso` and `fleet_tenants` (module docstring); `hostvars` unread."""
    if MEETFLEET_MISSING is not None:
        raise AnsibleFilterError(
            f"meetfleet_keycloak_realm needs meetfleet in the controller's Python "
            f"(pip install -e . in the repository's venv): {MEETFLEET_MISSING}"
        )
    if not isinstance(fleet_sso, Mapping):
        raise AnsibleFilterError(
            "meetfleet_keycloak_realm: fleet_sso must be a mapping (realm, display_name, "
            "public_url, ...; docs/sso.md), not " + type(fleet_sso).__name__
        )
    sso = _validated(Sso, _mapping(fleet_sso, "fleet_sso"), "fleet_sso")
    group_hosts = _mapping(groups, "groups")
    greenlight_hosts = set(group_hosts.get("greenlight") or ())
    tenants = []
    problems = []
    for name, body in _mapping(fleet_tenants, "fleet_tenants").items():
        if body is not None and not isinstance(body, dict):
            problems.append(f"fleet_tenants.{label(name)}: must be a mapping, not {type(body).__name__}")
            continue
        tenant = _validated(Tenant, {"name": name, **(body or {})}, f"fleet_tenants.{label(name)}")
        if (message := greenlight_problem(tenant, greenlight_hosts)) is not None:
            problems.append(f"fleet_tenants.{tenant.name}.greenlight: {message}")
        tenants.append(tenant)
    if problems:
        raise AnsibleFilterError("meetfleet_keycloak_realm: " + "; ".join(problems))
    try:
        return desired_realm(sso, tenants, group_hosts.get("nextcloud") or ())
    except RealmError as exc:
        raise AnsibleFilterError(f"meetfleet_keycloak_realm: {exc}") from None


class FilterModule:
    """meetfleet_keycloak_realm: the realm the inventory asks for."""

    def filters(self) -> dict[str, Any]:
        return {"meetfleet_keycloak_realm": keycloak_realm}
