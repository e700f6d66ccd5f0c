"""From the lab inventory to container specs: which hosts, on which port, with which key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meetfleet.fleet import Fleet, InventoryError, Problem, open_inventory
from meetfleet.lab.settings import LABEL_KEY, LabSettings

CONNECTION_KEYS = ("ansible_port", "ansible_host", "ansible_user", "ansible_ssh_private_key_file",
                   "lab_published_ports")
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "localhost"})
# Which lab vault a container was made for (its `lab_secrets_id`): state kept on a host
# (Keycloak's admin, databases) was made with that vault's secrets.
SECRETS_LABEL = f"{LABEL_KEY}.secrets"


@dataclass(frozen=True)
class LabHost:
    """One inventory host as the lab makes it: a container whose sshd is on 127.0.0.1:ssh_port."""

    name: str
    ssh_port: int
    ssh_user: str
    ssh_key: Path  # private key; its .pub goes into the container
    is_bbb: bool
    # (port on this machine's 127.0.0.1, port in the container), from lab_published_ports:
    # what this machine's own commands reach, e.g. the exporter that fleet_capacity_source names.
    published_ports: tuple[tuple[int, int], ...] = ()

    def run_args(self, settings: LabSettings, secrets_id: str = "") -> list[str]:
        """`podman run` arguments that create this host's container (`secrets_id`: the lab
        vault's, so a container configured with another checkout's secrets is told apart)."""
        return [
            "run", "--detach",
            "--name", self.name, "--hostname", self.name,
            "--label", settings.label,
            "--label", f"{LABEL_KEY}.ssh-port={self.ssh_port}",
            "--label", f"{SECRETS_LABEL}={secrets_id}",
            "--network", settings.network,
            "--systemd=always",
            # base's nftables firewall loads into the container's own network namespace
            # (never the machine's): the lab verifies the real ruleset, as on a real host.
            "--cap-add", "NET_ADMIN",
            "--publish", f"127.0.0.1:{self.ssh_port}:22",
            *(arg for outside, inside in self.published_ports
              for arg in ("--publish", f"127.0.0.1:{outside}:{inside}")),
            settings.image, "/sbin/init",
        ]


@dataclass(frozen=True)
class LabInventory:
    directory: Path
    fleet: Fleet
    hosts: list[LabHost]

    @property
    def vault_file(self) -> Path:
        return self.directory / "group_vars" / "all" / "vault.yml"


def load_lab_inventory(directory: Path) -> LabInventory:
    """Validate the inventory and read each host's connection. Raises InventoryError."""
    directory = directory.resolve()
    inventory = open_inventory(directory)
    fleet = inventory.fleet
    connections = inventory.host_variables(CONNECTION_KEYS)
    problems: list[Problem] = []
    hosts = [_lab_host(directory, name, fleet, connections.get(name, {}), problems) for name in sorted(fleet.hosts)]
    by_port: dict[int, str] = {}
    for host in hosts:
        if host is None:
            continue
        for port, key in ((host.ssh_port, "ansible_port"),
                          *((outside, "lab_published_ports") for outside, _ in host.published_ports)):
            if port in by_port:
                problems.append(Problem(_host_file(directory, host.name), f"{host.name}.{key}",
                                        f"port {port} on 127.0.0.1 is also {by_port[port]}'s; "
                                        "each needs its own"))
            by_port[port] = host.name
    if problems:
        raise InventoryError(problems)
    return LabInventory(directory, fleet, [h for h in hosts if h is not None])


def _host_file(directory: Path, name: str) -> Path:
    return directory / "host_vars" / f"{name}.yml"


def _lab_host(directory: Path, name: str, fleet: Fleet, connection: dict[str, Any],
              problems: list[Problem]) -> LabHost | None:
    where = _host_file(directory, name)
    port = connection.get("ansible_port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        problems.append(Problem(where, f"{name}.ansible_port",
                                f"a lab host needs ansible_port, a port from 1024 to 65535 for its "
                                f"sshd on 127.0.0.1 (got {port!r})"))
        port = None
    address = connection.get("ansible_host")
    if address not in LOCAL_ADDRESSES:
        problems.append(Problem(where, f"{name}.ansible_host",
                                f"lab hosts are reached on 127.0.0.1 (got {address!r})"))
    key = connection.get("ansible_ssh_private_key_file")
    if not key:
        problems.append(Problem(directory / "group_vars" / "all", f"{name}.ansible_ssh_private_key_file",
                                "is missing: the lab needs to know which key pair to make and install"))
    published = _published_ports(where, name, connection.get("lab_published_ports"), problems)
    if port is None or not key or address not in LOCAL_ADDRESSES or published is None:
        return None
    return LabHost(name=name, ssh_port=port, ssh_user=str(connection.get("ansible_user", "root")),
                   # relative paths are relative to where ansible runs, as Ansible reads them
                   ssh_key=Path(str(key)).resolve(), is_bbb=fleet.hosts[name].bbb is not None,
                   published_ports=published)


def _published_ports(where: Path, name: str, value: Any,
                     problems: list[Problem]) -> tuple[tuple[int, int], ...] | None:
    """`lab_published_ports: ["19840:9840", ...]` (127.0.0.1 port : container port), like podman -p."""
    if value is None:
        return ()
    key = f"{name}.lab_published_ports"
    if not isinstance(value, list):
        problems.append(Problem(where, key, f"must be a list of 'PORT:CONTAINER_PORT' (got {type(value).__name__})"))
        return None
    ports: list[tuple[int, int]] = []
    for item in value:
        outside, _, inside = str(item).partition(":")
        if not (isinstance(item, str) and outside.isdigit() and inside.isdigit()
                and 1024 <= int(outside) <= 65535 and 1 <= int(inside) <= 65535 and int(inside) != 22):
            problems.append(Problem(where, key, f"{str(item)[:40]!r} is not 'PORT:CONTAINER_PORT' with PORT from "
                                                "1024 to 65535 on 127.0.0.1 and a container port other than 22"))
            return None
        ports.append((int(outside), int(inside)))
    return tuple(ports)
