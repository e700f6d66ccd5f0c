"""Running podman (and the few other host tools the lab needs) with timeouts and clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from meetfleet.lab.settings import SETUP_HINT


class LabError(Exception):
    """Something the lab needs failed; the message says what and how to fix it."""


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LabError(f"`{name}` is not installed: {SETUP_HINT}")
    return path


def run_tool(args: list[str], *, timeout: float, input_text: str | None = None,
             check: bool = True, what: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; a missing tool, a timeout or (with check) a failure raise LabError."""
    require_tool(args[0])
    label = what or " ".join(args[:3])
    try:
        result = subprocess.run(args, input=input_text, capture_output=True, text=True,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{label}: no answer within {timeout:g} s") from exc
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise LabError(f"{label} failed (exit {result.returncode}): {detail[-1] if detail else 'no output'}")
    return result


def podman(*args: str, timeout: float = 60, input_text: str | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_tool(["podman", *args], timeout=timeout, input_text=input_text, check=check,
                    what=f"`podman {' '.join(args[:2])}`")


def exists(kind: str, name: str) -> bool:
    """`podman KIND exists NAME` (kind: container, network, image)."""
    return podman(kind, "exists", name, check=False, timeout=30).returncode == 0


def inspect_container(name: str) -> dict[str, Any] | None:
    result = podman("container", "inspect", name, check=False, timeout=30)
    if result.returncode != 0:
        return None
    data = json.loads(result.stdout)
    return data[0] if data else None


# podman's own record of a container whose processes were killed behind its back (a sandbox or
# machine that kills every process but keeps /run) still says running or stopping; podman can
# then neither exec, stop nor start it, only remove it.
STALE = "stale"
_LIVE_STATES = frozenset({"running", "stopping", "paused"})


def container_state(info: dict[str, Any]) -> str:
    """podman's state of the container, or STALE when podman says it lives but its process is gone."""
    state = info.get("State") or {}
    status = str(state.get("Status") or "unknown")
    if status in _LIVE_STATES and not process_alive(int(state.get("Pid") or 0)):
        return STALE
    return status


def process_alive(pid: int) -> bool:
    """Whether the process runs; a killed one whose dead parent left it unreaped is a zombie, not alive."""
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


def labelled(kind: str, label: str) -> list[str]:
    """Names of the containers or networks carrying `label` (key=value)."""
    if kind == "container":
        out = podman("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}").stdout
    else:
        out = podman("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}").stdout
    return sorted(line for line in out.splitlines() if line.strip())
