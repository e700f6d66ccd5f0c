"""Kernel settings where /proc/sys is writable: base applies the network namespace's own
keys, and never the kernel's of the machine running the container, though root could write
some of them (fs.protected_*)."""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROLES = HERE.parents[2] / "roles"
IMAGE = "localhost/meetfleet-lab:bookworm"
HOST_KEYS = ("fs/protected_fifos", "fs/protected_regular", "fs/suid_dumpable", "kernel/kptr_restrict",
             "dev/tty/ldisc_autoload")


def _read(path: str) -> str:
    return Path("/proc/sys", path).read_text().strip()


@pytest.fixture(scope="module")
def writable():
    """A throwaway container of the lab image with /proc/sys unmasked (writable), no systemd:
    nothing at boot applies sysctl files to the machine's kernel."""
    name = f"meetfleet-molecule-base-sysctl-{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "run", "-d", "--rm", "--name", name, "--cap-add", "NET_ADMIN",
                    "--security-opt", "unmask=/proc/sys", IMAGE, "sleep", "600"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=120, check=False)


def _converge(name: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROLES), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_PIPELINING": "1"}
    return subprocess.run(["ansible-playbook", "-i", f"{name},", "-c", "containers.podman.podman",
                           str(HERE / "sysctl_only.yml")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def test_network_keys_applied_host_keys_left_alone_and_a_rerun_changes_nothing(writable):
    before = {key: _read(key) for key in HOST_KEYS}
    first = _converge(writable)
    assert first.returncode == 0, first.stdout[-3000:]
    assert "changed=2 " in first.stdout, first.stdout[-3000:]  # the file, and the live values
    for key, value in {"net/ipv4/conf/all/rp_filter": "1", "net/ipv4/conf/all/send_redirects": "0",
                       "net/ipv4/conf/all/log_martians": "1", "net/ipv6/conf/all/accept_redirects": "0",
                       "net/ipv4/ip_forward": "0"}.items():
        live = subprocess.run(["podman", "exec", writable, "cat", f"/proc/sys/{key}"],
                              capture_output=True, text=True, check=True, timeout=30).stdout.strip()
        assert live == value, key
    # The machine's kernel is as it was, including keys root in the container could write.
    assert {key: _read(key) for key in HOST_KEYS} == before
    second = _converge(writable)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "changed=0" in second.stdout, second.stdout[-3000:]
