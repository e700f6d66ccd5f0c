"""Pure planning for the fleet's Hetzner Cloud VMs (docs/cloud.md): what VM a host should
be, the labels that mark it as this fleet's, its admins' SSH keys, the host variables the
inventory records, a throwaway CI VM's expiry, and the drift between inventory and cloud.
No I/O: the calls are meetfleet.cloud.hetzner's."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meetfleet.cloud.ports import PortRule
from meetfleet.fleet.model import Fleet, HcloudSource, Host, Region

MANAGED_BY = "managed-by"
MANAGER = "meetfleet"
CI_KIND = "ci-vm"
EXPIRES = "expires"  # a CI VM's expiry: Unix seconds, a label value
# Hetzner's label values: at most 63 characters, alphanumerics with - _ . inside.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_DURATION = re.compile(r"^(\d{1,5})([mhd])$")


def is_label_value(value: str) -> bool:
    return bool(_LABEL_VALUE.match(value))


def fleet_name(inventory_dir: Path) -> str:
    """This fleet's name in the `fleet` label: its inventory directory's name."""
    name = Path(inventory_dir).resolve().name
    if not is_label_value(name):
        raise ValueError(f"the inventory directory's name {name[:80]!r} cannot be a Hetzner label value "
                         "(letters, digits, - _ . inside, at most 63 characters)")
    return name


def fleet_labels(fleet: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGER, "fleet": fleet}


def host_labels(fleet: str, region: str, kind: str) -> dict[str, str]:
    return {**fleet_labels(fleet), "region": region, "kind": kind}


def selector(labels: dict[str, str]) -> str:
    """A Hetzner label selector matching every one of `labels` (k=v,k=v)."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def is_ours(labels: dict[str, str], fleet: str) -> bool:
    return all(labels.get(k) == v for k, v in fleet_labels(fleet).items())


@dataclass(frozen=True)
class AdminKey:
    """An admin's public key as base_admin_users gives it, with the MD5 fingerprint Hetzner
    lists SSH keys by."""

    admin: str
    public_key: str
    fingerprint: str


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint of an OpenSSH public key, as Hetzner shows it (aa:bb:...)."""
    parts = public_key.split()
    if len(parts) < 2:
        raise ValueError(f"not an OpenSSH public key: {public_key[:40]!r}")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ValueError(f"not an OpenSSH public key (its base64 part): {public_key[:40]!r}") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def admin_keys(base_admin_users: Any) -> list[AdminKey]:
    """Keys of the present admins of base_admin_users ([{name, ssh_keys, state}]), as the base
    role authorises them: the same people get into a new VM before base runs."""
    keys: list[AdminKey] = []
    for user in base_admin_users or []:
        if not isinstance(user, dict) or user.get("state", "present") != "present":
            continue
        for key in user.get("ssh_keys") or []:
            keys.append(AdminKey(str(user.get("name")), str(key).strip(), fingerprint(str(key))))
    return keys


@dataclass(frozen=True)
class VmPlan:
    """What a VM should be."""

    name: str
    server_type: str
    image: str
    location: str
    labels: dict[str, str]
    ssh_keys: tuple[AdminKey, ...] = ()
    firewall_rules: tuple[PortRule, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "server_type": self.server_type, "image": self.image,
                "location": self.location, "labels": self.labels,
                "ssh_keys": [k.fingerprint for k in self.ssh_keys],
                "firewall": [r.as_json() for r in self.firewall_rules]}


def region_source(region: Region, kind: str) -> HcloudSource | None:
    """A new host's VM in `region`: its kind's server type, else the region's; None when the
    region has no Hetzner location (its hosts are static)."""
    if region.hcloud is None:
        return None
    defaults = region.hcloud
    return HcloudSource(location=defaults.location, server_type=defaults.server_types.get(kind, defaults.server_type),
                        image=defaults.image)


def new_host_vars(region: str, source: HcloudSource | None, kind: str, address: str | None) -> dict[str, Any]:
    """The host_vars a new host gets (before its VM's address is known). A new BBB server is
    cordoned: placement must not use it before it is configured (`server uncordon` then)."""
    values: dict[str, Any] = {"fleet_region": region}
    if source is None:
        values["fleet_provider"] = "static"
    else:
        values.update({"fleet_provider": "hcloud", "fleet_hcloud_location": source.location,
                       "fleet_hcloud_server_type": source.server_type, "fleet_hcloud_image": source.image})
    if address is not None:
        values["ansible_host"] = address
    if kind == "bbb":
        values["fleet_bbb_state"] = "cordoned"
    return values


def vm_plan(host: Host, fleet: str, kind: str, keys: Iterable[AdminKey], rules: Iterable[PortRule]) -> VmPlan:
    assert isinstance(host.source, HcloudSource)
    return VmPlan(host.name, host.source.server_type, host.source.image, host.source.location,
                  host_labels(fleet, host.region, kind), tuple(keys), tuple(rules))


# --- CI VMs -------------------------------------------------------------------------------


def parse_ttl(text: str) -> int:
    """Seconds of a TTL such as 30m, 2h, 1d (at most 7 days)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text[:40]!r} is not a duration such as 30m, 2h or 1d")
    seconds = int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not 0 < seconds <= 7 * 86400:
        raise ValueError(f"{text!r}: a CI VM lives from one minute to 7 days")
    return seconds


def ci_labels(fleet: str, region: str, expires_at: int) -> dict[str, str]:
    return {**fleet_labels(fleet), "region": region, "kind": CI_KIND, EXPIRES: str(expires_at)}


def is_ci_vm(labels: dict[str, str], fleet: str) -> bool:
    return is_ours(labels, fleet) and labels.get("kind") == CI_KIND


def expires_at(labels: dict[str, str]) -> int | None:
    value = labels.get(EXPIRES, "")
    return int(value) if value.isdigit() else None


def is_expired(labels: dict[str, str], now: float) -> bool:
    """A CI VM whose expiry has passed. One with no readable expiry counts as expired: a
    throwaway VM nobody can tell the end of is the one that would run for months."""
    when = expires_at(labels)
    return when is None or when <= now


# --- drift --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudServer:
    """A VM as the cloud reports it."""

    id: int
    name: str
    server_type: str
    location: str | None
    labels: dict[str, str]
    ipv4: str | None = None
    status: str | None = None
    cores: int | None = None
    firewalls: tuple[int, ...] = ()  # ids of the firewalls applied to it

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "server_type": self.server_type, "location": self.location,
                "labels": self.labels, "ipv4": self.ipv4, "status": self.status, "cores": self.cores}


@dataclass(frozen=True)
class Drift:
    host: str
    kind: str  # unknown_to_inventory | missing_in_cloud | not_labelled | mismatch
    message: str
    inventory: dict[str, Any] = field(default_factory=dict)
    cloud: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"host": self.host, "kind": self.kind, "message": self.message, "inventory": self.inventory,
                "cloud": self.cloud}


def drift(fleet: Fleet, name: str, labelled: list[CloudServer], by_name: dict[str, CloudServer | None]) -> list[Drift]:
    """What differs between the inventory and the cloud.

    `labelled`: the VMs labelled managed-by=meetfleet and fleet=NAME (CI VMs left out by the
    caller); `by_name`: for each hcloud host not among them, the VM of that name, if any."""
    found: list[Drift] = []
    known = {s.name: s for s in labelled}
    for server in labelled:
        host = fleet.hosts.get(server.name)
        if host is None:
            found.append(Drift(server.name, "unknown_to_inventory",
                               f"a VM labelled as this fleet's ({server.server_type}, {server.location}) that "
                               "the inventory does not know", cloud=server.as_json()))
        elif not isinstance(host.source, HcloudSource):
            found.append(Drift(server.name, "unknown_to_inventory",
                               "a VM labelled as this fleet's, but the inventory has the host as static",
                               inventory={"provider": "static"}, cloud=server.as_json()))
    for host in sorted(fleet.hosts.values(), key=lambda h: h.name):
        if not isinstance(host.source, HcloudSource):
            continue
        want = {"server_type": host.source.server_type, "location": host.source.location}
        server = known.get(host.name)
        if server is None:
            other = by_name.get(host.name)
            if other is None:
                found.append(Drift(host.name, "missing_in_cloud", "fleet_provider hcloud, but the cloud has no such VM",
                                   inventory=want))
                continue
            found.append(Drift(host.name, "not_labelled", f"a VM of that name exists without this fleet's labels "
                                                          f"({selector(fleet_labels(name))})",
                               inventory=want, cloud=other.as_json()))
            server = other
        have = {"server_type": server.server_type, "location": server.location}
        wrong = [key for key in want if want[key] != have[key]]
        if wrong:
            found.append(Drift(host.name, "mismatch", "; ".join(
                f"{key}: inventory {want[key]}, cloud {have[key]}" for key in wrong), inventory=want, cloud=have))
    return found
