"""The inventory's values as Ansible hands them to a role's filter plugin, read into the fleet
model: plain Python first (Ansible's strings, mappings and lists are tagged subclasses), then
validated as `meetfleet inventory check` does. Errors name the key (fleet_sso.smtp.port,
fleet_tenants.NAME.sso_client, ...); the plugins raise them as AnsibleFilterError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from meetfleet.fleet.loader import validation_message
from meetfleet.fleet.model import Sso, Tenant
from meetfleet.fleet.sso_checks import greenlight_problem
from meetfleet.fleet.yamlio import label


class InventoryValueError(ValueError):
    """A value a role read from the inventory is not what the fleet model accepts."""


def plain(value: Any) -> Any:
    """Ansible's values as plain Python: what the fleet model reads from YAML."""
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InventoryValueError(f"{name} must be a mapping, not {type(value).__name__} "
                                  f"(is {name} defined in group_vars/all/?)")
    return plain(value)


def validated(model: type, data: dict[str, Any], key: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            ".".join([key, *(label(part) if isinstance(part, str) else str(part) for part in error["loc"])])
            + f": {validation_message(error)}"
            for error in exc.errors()
        ]
        raise InventoryValueError("; ".join(problems)) from None


def sso_of(fleet_sso: Any) -> Sso:
    if not isinstance(fleet_sso, Mapping):
        raise InventoryValueError("fleet_sso must be a mapping (realm, display_name, public_url, ...; "
                                  "docs/sso.md), not " + type(fleet_sso).__name__)
    return validated(Sso, mapping(fleet_sso, "fleet_sso"), "fleet_sso")


def tenants_of(fleet_tenants: Any, greenlight_hosts: set[str]) -> list[Tenant]:
    """Every tenant, validated; each one's `greenlight` must be a host of that group."""
    tenants, problems = [], []
    for name, body in mapping(fleet_tenants, "fleet_tenants").items():
        if body is not None and not isinstance(body, dict):
            problems.append(f"fleet_tenants.{label(name)}: must be a mapping, not {type(body).__name__}")
            continue
        tenant = validated(Tenant, {"name": name, **(body or {})}, f"fleet_tenants.{label(name)}")
        if (message := greenlight_problem(tenant, greenlight_hosts)) is not None:
            problems.append(f"fleet_tenants.{tenant.name}.greenlight: {message}")
        tenants.append(tenant)
    if problems:
        raise InventoryValueError("; ".join(problems))
    return tenants
