"""The Greenlight instances the inventory asks of a host, as roles/greenlight reads them.

In the role (vars/main.yml)::

    greenlight_instances: "{{ fleet_tenants | meetfleet_greenlight_instances(fleet_sso, groups,
                              inventory_hostname, greenlight_shared_tenant, greenlight_shared_host) }}"
    greenlight_allocation: "{{ previous | meetfleet_greenlight_allocate(names, first_port, ports, dbs) }}"

The values are meetfleet.greenlight's (instances.py says what each field means); this is
the thin layer that turns Ansible's values into the fleet model and errors into
AnsibleFilterError naming the key. The controller's venv has meetfleet installed.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from meetfleet.fleet.from_ansible import InventoryValueError, mapping, plain, sso_of, tenants_of
    from meetfleet.greenlight import GreenlightError, allocate, host_instances
except ImportError as exc:  # reported when the filter is used, not when Ansible loads plugins
    MEETFLEET_MISSING: ImportError | None = exc
else:
    MEETFLEET_MISSING = None


def _needs_meetfleet(name: str) -> None:
    if MEETFLEET_MISSING is not None:
        raise AnsibleFilterError(f"{name} needs meetfleet in the controller's Python "
                                 f"(pip install -e . in the repository's venv): {MEETFLEET_MISSING}")


def greenlight_instances(fleet_tenants: Any, fleet_sso: Any, groups: Any, host: str,
                         shared_tenant: Any = None, shared_host: Any = None) -> list[dict[str, Any]]:
    _needs_meetfleet("meetfleet_greenlight_instances")
    try:
        group_hosts = mapping(groups, "groups")
        greenlight_hosts = set(group_hosts.get("greenlight") or ())
        sso = sso_of(fleet_sso) if fleet_sso else None
        tenants = tenants_of(fleet_tenants, greenlight_hosts)
        instances = host_instances(plain(host), tenants, sso, greenlight_hosts,
                                   plain(shared_tenant) or None, plain(shared_host) or None)
    except (InventoryValueError, GreenlightError) as exc:
        raise AnsibleFilterError(f"meetfleet_greenlight_instances: {exc}") from None
    return [instance.as_dict() for instance in instances]


def greenlight_allocate(previous: Any, names: Any, first_port: Any, ports: Any, redis_databases: Any) -> dict:
    _needs_meetfleet("meetfleet_greenlight_allocate")
    try:
        return allocate(mapping(previous, "the stored allocation"), plain(names), int(first_port), int(ports),
                        int(redis_databases))
    except (InventoryValueError, GreenlightError) as exc:
        raise AnsibleFilterError(f"meetfleet_greenlight_allocate: {exc}") from None


class FilterModule:
    """meetfleet_greenlight_instances and meetfleet_greenlight_allocate."""

    def filters(self) -> dict[str, Any]:
        return {"meetfleet_greenlight_instances": greenlight_instances,
                "meetfleet_greenlight_allocate": greenlight_allocate}
