"""Set-up proves itself: every tool the lab and the tests call is there, and podman works.

`scripts/setup.sh` ends with `python -m meetfleet.lab.doctor`. A missing binary is named
with the Debian package that provides it, so a fresh machine's gap (netavark without
iptables, say) is one line to read instead of a failure deep inside `lab up`. The network
check does what the lab does: two throwaway containers on their own podman network, one
reaching the other by name over TCP.

Exit 0 when everything works, 1 otherwise (the missing packages are named), 2 on a bad
argument.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from meetfleet.lab.settings import DEFAULT_IMAGE


@dataclass(frozen=True)
class Requirement:
    binary: str
    package: str  # the Debian package that provides it
    used_by: str
    # where podman keeps its helpers: found there, not on PATH
    helper_dirs: tuple[str, ...] = ()


PODMAN_HELPER_DIRS = ("/usr/lib/podman", "/usr/libexec/podman")

REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("podman", "podman", "the lab and molecule (systemd containers)"),
    Requirement("runc", "runc", "podman's runtime (crun fails on hybrid cgroups)"),
    Requirement("conmon", "conmon", "podman's container monitor", PODMAN_HELPER_DIRS),
    Requirement("netavark", "netavark", "podman's network stack", PODMAN_HELPER_DIRS),
    Requirement("aardvark-dns", "aardvark-dns", "host names between lab hosts", PODMAN_HELPER_DIRS),
    Requirement("iptables", "iptables",
                "netavark's firewall backend (without it every `podman run` on a network fails)"),
    Requirement("debootstrap", "debootstrap", "building the lab image"),
    Requirement("ssh", "openssh-client", "reaching lab hosts, Ansible, pyinfra"),
    Requirement("ssh-keygen", "openssh-client", "the lab's key pair"),
    Requirement("prometheus", "prometheus", "placement's tests against a real Prometheus"),
    Requirement("promtool", "prometheus", "rule and metric lint tests"),
    Requirement("git", "git", "ansible-lint finds the project root with it"),
    Requirement("tar", "tar", "importing the lab image"),
    Requirement("redis-server", "redis-server", "the gateway's shared counters in its tests"),
    Requirement("node", "nodejs", "the bigbluebutton-js test driver of the gateway"),
    Requirement("npm", "npm", "installing the bigbluebutton-js test driver"),
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    package: str = ""  # what to install when it failed

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def find_binary(req: Requirement, which: Callable[[str], str | None] = shutil.which) -> str | None:
    found = which(req.binary)
    if found:
        return found
    for directory in req.helper_dirs:
        candidate = Path(directory) / req.binary
        if candidate.is_file():
            return str(candidate)
    return None


def check_binaries(requirements: Iterable[Requirement] = REQUIREMENTS,
                   which: Callable[[str], str | None] = shutil.which) -> list[Check]:
    checks = []
    for req in requirements:
        path = find_binary(req, which)
        if path:
            checks.append(Check(f"binary {req.binary}", True, path))
        else:
            checks.append(Check(f"binary {req.binary}", False, f"not found; needed for {req.used_by}",
                                req.package))
    return checks


def _podman(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


# Run in the second container with the first one's name: connect by name, retrying while
# the first one's server starts.
_PROBE = """
import socket, sys, time
for attempt in range(50):
    try:
        socket.create_connection((sys.argv[1], 8000), timeout=2).close()
        break
    except OSError as exc:
        error = exc
        time.sleep(0.2)
else:
    sys.exit(f"cannot reach {sys.argv[1]}:8000 by name: {error}")
"""


def check_network(image: str = DEFAULT_IMAGE) -> Check:
    """Two containers on a throwaway network; the second connects to the first by name."""
    name = "container network"
    if shutil.which("podman") is None:
        return Check(name, False, "podman is not installed", "podman")
    if _podman("image", "exists", image).returncode != 0:
        return Check(name, False, f"image {image} is missing: `meetfleet lab prepare` builds it")
    tag = uuid.uuid4().hex[:8]
    network, server = f"meetfleet-doctor-{tag}", f"meetfleet-doctor-{tag}-a"
    try:
        made = _podman("network", "create", "--label", "meetfleet.doctor=1", network)
        if made.returncode != 0:
            return Check(name, False, f"`podman network create` failed: {_last_line(made)}")
        started = _podman("run", "--detach", "--rm", "--name", server, "--network", network, image,
                          "python3", "-m", "http.server", "--bind", "0.0.0.0", "8000",  # noqa: S104 - in a throwaway container
                          timeout=120)
        if started.returncode != 0:
            why = _last_line(started)
            hint = "iptables" if "netavark" in why else ""
            return Check(name, False, f"`podman run` on a network failed: {why}", hint)
        reached = _podman("run", "--rm", "--network", network, image, "python3", "-c", _PROBE, server,
                          timeout=120)
        if reached.returncode != 0:
            return Check(name, False, f"a container could not reach another by name: {_last_line(reached)}",
                         "aardvark-dns")
        return Check(name, True, "a container reached another by name on a podman network")
    except subprocess.TimeoutExpired as exc:
        return Check(name, False, f"podman gave no answer within {exc.timeout:g} s ({' '.join(exc.cmd[:3])})")
    finally:
        _podman("rm", "--force", "--time", "0", server)
        _podman("network", "rm", "--force", network)


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'ok' if c.ok else 'MISSING':<8} {c.name:<{width}}  {c.detail}" for c in checks]
    missing = sorted({c.package for c in checks if not c.ok and c.package})
    failed = [c for c in checks if not c.ok]
    if failed:
        lines.append(f"set-up check failed: {len(failed)} of {len(checks)} checks"
                     + (f"; install: apt-get install {' '.join(missing)}" if missing else ""))
    else:
        lines.append(f"set-up check: all {len(checks)} checks passed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meetfleet.lab.doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    parser.add_argument("--no-network", action="store_true", help="Check binaries only (no containers).")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="Image for the network check.")
    args = parser.parse_args(argv)
    checks = check_binaries()
    if not args.no_network:
        checks.append(check_network(args.image))
    ok = all(c.ok for c in checks)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [c.as_dict() for c in checks],
                          "missing_packages": sorted({c.package for c in checks if not c.ok and c.package})},
                         indent=2))
    else:
        print(render(checks))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
