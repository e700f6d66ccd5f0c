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

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from meetfleet.fleet.from_ansible import InventoryValueError, mapping, sso_of, tenants_of
    from meetfleet.sso.realm import RealmError, desired_realm
except ImportError as exc:  # reported when the filter is used, not when Ansible loads plugins
    MEETFLEET_MISSING: ImportError | None = exc
else:
    MEETFLEET_MISSING = None


def keycloak_realm(fleet_sso: Any, fleet_tenants: Any = None, groups: Any = None, hostvars: Any = None) -> dict:
    """The realm for `fleet_sso` and `fleet_tenants` (module docstring); `hostvars` unread."""
    if MEETFLEET_MISSING is not None:
        raise AnsibleFilterError(
            f"meetfleet_keycloak_realm needs meetfleet in the controller's Python "
            f"(pip install -e . in the repository's venv): {MEETFLEET_MISSING}"
        )
    try:
        sso = sso_of(fleet_sso)
        group_hosts = mapping(groups, "groups")
        tenants = tenants_of(fleet_tenants, set(group_hosts.get("greenlight") or ()))
        return desired_realm(sso, tenants, group_hosts.get("nextcloud") or ())
    except (InventoryValueError, RealmError) as exc:
        raise AnsibleFilterError(f"meetfleet_keycloak_realm: {exc}") from None


class FilterModule:
    """meetfleet_keycloak_realm: the realm the inventory asks for."""

    def filters(self) -> dict[str, Any]:
        return {"meetfleet_keycloak_realm": keycloak_realm}
