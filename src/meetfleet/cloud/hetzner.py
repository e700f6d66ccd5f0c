"""The Hetzner Cloud calls, through the real hcloud-python client (docs/cloud.md).

The token comes from the environment (HCLOUD_TOKEN) only: never a flag (it would be in the
shell's history and in `ps`), never printed or logged; an error names the call, not the
token. HCLOUD_ENDPOINT points the client elsewhere (the tests' stand-in). Every call has
a timeout and every action is polled at a fixed interval for at most a bounded time.
"""

from __future__ import annotations

import os
import time
from typing import Any

from meetfleet.cloud.plan import AdminKey, CloudServer, VmPlan, fleet_labels, selector
from meetfleet.cloud.ports import PortRule

TOKEN_ENV = "HCLOUD_TOKEN"  # noqa: S105 - the variable's name
ENDPOINT_ENV = "HCLOUD_ENDPOINT"
DEFAULT_ENDPOINT = "https://api.hetzner.cloud/v1"
POLL_INTERVAL_ENV = "MEETFLEET_HCLOUD_POLL_INTERVAL"
TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
ACTION_WAIT_SECONDS = 600


class CloudError(Exception):
    """A cloud call failed (the message names the call and Hetzner's error code)."""


class MissingToken(CloudError):
    pass


def connect() -> Any:
    """An hcloud.Client for HCLOUD_TOKEN (MissingToken when it is unset or empty)."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise MissingToken(f"{TOKEN_ENV} is not set: export a Hetzner Cloud API token (read and write) "
                           "for the fleet's project; it is never taken as an option")
    try:
        from hcloud import Client
    except ImportError:
        raise CloudError("the hcloud package is missing: install meetfleet with its ops extra "
                         "(pip install 'meetfleet[ops]')") from None
    interval = float(os.environ.get(POLL_INTERVAL_ENV, "2") or 2)
    return Client(token=token, api_endpoint=os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT,
                  application_name="meetfleet", poll_interval=interval,
                  poll_max_retries=max(1, int(ACTION_WAIT_SECONDS / max(interval, 0.01))), timeout=TIMEOUT)


def _call(what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    from hcloud import APIException
    from hcloud.actions import ActionException
    from requests import RequestException

    try:
        return func(*args, **kwargs)
    except APIException as exc:
        raise CloudError(f"{what}: Hetzner Cloud answered {exc.code}: {exc.message}") from None
    except ActionException as exc:
        raise CloudError(f"{what}: the action did not finish ({exc})") from None
    except RequestException as exc:
        raise CloudError(f"{what}: cannot reach the Hetzner Cloud API ({type(exc).__name__})") from None


def _server(bound: Any) -> CloudServer:
    ipv4 = bound.public_net.ipv4.ip if bound.public_net and bound.public_net.ipv4 else None
    location = bound.location.name if getattr(bound, "location", None) is not None else None
    firewalls = tuple(f.firewall.id for f in (bound.public_net.firewalls or [])) if bound.public_net else ()
    return CloudServer(bound.id, bound.name, bound.server_type.name, location, dict(bound.labels or {}), ipv4,
                       bound.status, getattr(bound.server_type, "cores", None), firewalls)


def servers(client: Any, *, name: str | None = None, labels: dict[str, str] | None = None) -> list[CloudServer]:
    """Every VM matching the name and every label (all pages)."""
    found = _call("list servers", client.servers.get_all, name=name,
                  label_selector=selector(labels) if labels else None)
    return [_server(s) for s in found]


def managed_servers(client: Any, fleet: str) -> list[CloudServer]:
    return servers(client, labels=fleet_labels(fleet))


def ensure_ssh_keys(client: Any, keys: list[AdminKey], fleet: str) -> tuple[list[Any], list[str]]:
    """The project's SSH keys for `keys` (found by fingerprint; created, labelled as this
    fleet's, when missing). Returns them and the fingerprints created."""
    from hcloud.ssh_keys import SSHKey

    bound, created = [], []
    for key in keys:
        found = _call("list SSH keys", client.ssh_keys.get_all, fingerprint=key.fingerprint)
        if found:
            bound.append(found[0])
            continue
        name = f"{key.admin}-{fleet}-{key.fingerprint.replace(':', '')[:12]}"
        bound.append(_call(f"create the SSH key of {key.admin}", client.ssh_keys.create, name=name,
                           public_key=key.public_key, labels=fleet_labels(fleet)))
        created.append(key.fingerprint)
    return [SSHKey(id=k.id) for k in bound], created


def _rules(rules: tuple[PortRule, ...]) -> list[Any]:
    from hcloud.firewalls import FirewallRule

    return [FirewallRule(direction="in", protocol=r.protocol, port=r.port, source_ips=list(r.sources),
                         description=" ".join(r.declared_by)[:255] or None) for r in rules]


def _rule_key(rule: Any) -> tuple:
    return (rule.direction, rule.protocol, rule.port, tuple(sorted(rule.source_ips or [])))


def find_firewall(client: Any, name: str, labels: dict[str, str]) -> Any | None:
    found = _call("list firewalls", client.firewalls.get_all, name=name, label_selector=selector(labels))
    return found[0] if found else None


def ensure_firewall(client: Any, plan: VmPlan) -> tuple[Any, str]:
    """The VM's firewall (named as the host, its labels), created or its rules set to the
    plan's. Returns it and what was done: created, updated or unchanged."""
    wanted = _rules(plan.firewall_rules)
    firewall = find_firewall(client, plan.name, plan.labels)
    if firewall is None:
        response = _call(f"create firewall {plan.name}", client.firewalls.create, name=plan.name, rules=wanted,
                         labels=plan.labels)
        for action in response.actions or []:
            _call(f"create firewall {plan.name}", action.wait_until_finished)
        return response.firewall, "created"
    if sorted(map(_rule_key, firewall.rules or [])) == sorted(map(_rule_key, wanted)):
        return firewall, "unchanged"
    for action in _call(f"set the rules of firewall {plan.name}", client.firewalls.set_rules, firewall, wanted):
        _call(f"set the rules of firewall {plan.name}", action.wait_until_finished)
    return firewall, "updated"


def apply_firewall(client: Any, firewall: Any, server: CloudServer) -> bool:
    """Apply `firewall` to the VM when it is not yet (e.g. the firewall was deleted and made
    again). True when it was applied now."""
    from hcloud.firewalls import FirewallResource
    from hcloud.servers import Server

    if firewall.id in server.firewalls:
        return False
    actions = _call(f"apply firewall {firewall.name} to {server.name}", client.firewalls.apply_to_resources,
                    firewall, [FirewallResource(type="server", server=Server(id=server.id))])
    for action in actions:
        _call(f"apply firewall {firewall.name} to {server.name}", action.wait_until_finished)
    return True


def create_server(client: Any, plan: VmPlan, ssh_keys: list[Any], firewall: Any | None) -> CloudServer:
    """Create the VM and wait until it is running (its creation action finished)."""
    from hcloud.images import Image
    from hcloud.locations import Location
    from hcloud.server_types import ServerType

    response = _call(f"create server {plan.name}", client.servers.create, name=plan.name,
                     server_type=ServerType(name=plan.server_type), image=Image(name=plan.image),
                     location=Location(name=plan.location), ssh_keys=ssh_keys,
                     firewalls=[firewall] if firewall is not None else None, labels=plan.labels)
    _call(f"create server {plan.name}", response.action.wait_until_finished)
    for action in response.next_actions or []:
        _call(f"start server {plan.name}", action.wait_until_finished)
    return _server(_call(f"read server {plan.name}", client.servers.get_by_id, response.server.id))


def delete_server(client: Any, server: CloudServer) -> None:
    from hcloud.servers import Server

    action = _call(f"delete server {server.name}", client.servers.delete, Server(id=server.id))
    _call(f"delete server {server.name}", action.wait_until_finished)


def delete_firewall(client: Any, name: str, labels: dict[str, str]) -> bool:
    """Delete the host's firewall, if there is one with its labels. True when one was deleted."""
    firewall = find_firewall(client, name, labels)
    if firewall is None:
        return False
    from hcloud import APIException

    # Detaching it from a deleted VM can take a moment: resource_in_use until then.
    deadline = time.monotonic() + 60
    while True:
        try:
            firewall.delete()
            return True
        except APIException as exc:
            if exc.code != "resource_in_use" or time.monotonic() > deadline:
                raise CloudError(f"delete firewall {name}: Hetzner Cloud answered {exc.code}: {exc.message}") from None
        time.sleep(float(os.environ.get(POLL_INTERVAL_ENV, "2") or 2))
