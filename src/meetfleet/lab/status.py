"""Is each lab host up? Container state, systemd state and SSH, probed concurrently."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from meetfleet.lab.hosts import LabHost
from meetfleet.lab.podman import LabError, container_state, inspect_container, podman
from meetfleet.lab.settings import LABEL_KEY, LabSettings
from meetfleet.lab.ssh import answers_ssh

HEALTHY_SYSTEMD = "running"
STATUS_COLUMNS = ("host", "container", "systemd", "ssh", "port", "healthy")


@dataclass(frozen=True)
class HostStatus:
    host: str
    port: int
    container: str  # podman's state (running, exited...), "stale", "missing" or "not the lab's"
    systemd: str  # `systemctl is-system-running` (running, degraded, starting...) or "-"
    ssh: bool

    @property
    def healthy(self) -> bool:
        return self.container == "running" and self.systemd == HEALTHY_SYSTEMD and self.ssh

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "healthy": self.healthy}


def probe_host(host: LabHost, settings: LabSettings) -> HostStatus:
    info = inspect_container(host.name)
    if info is None:
        return HostStatus(host.name, host.ssh_port, "missing", "-", ssh=False)
    labels = info.get("Config", {}).get("Labels") or {}
    if labels.get(LABEL_KEY) != settings.label_value:
        return HostStatus(host.name, host.ssh_port, "not the lab's", "-", ssh=False)
    state = container_state(info)
    systemd = "-"
    if state == "running":
        try:
            result = podman("exec", host.name, "systemctl", "is-system-running", check=False, timeout=15)
            systemd = result.stdout.strip() or "unknown"
        except LabError:
            systemd = "no answer"
    ssh = state == "running" and answers_ssh(host.ssh_port, host.ssh_user, host.ssh_key)
    return HostStatus(host.name, host.ssh_port, state, systemd, ssh)


def probe_all(hosts: list[LabHost], settings: LabSettings) -> list[HostStatus]:
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        return list(pool.map(lambda h: probe_host(h, settings), hosts))


def status_rows(statuses: Iterable[HostStatus]) -> list[tuple[str, ...]]:
    """Rows for the status table, in STATUS_COLUMNS order."""
    return [(s.host, s.container, s.systemd, "ok" if s.ssh else "no", str(s.port),
             "yes" if s.healthy else "NO") for s in statuses]
