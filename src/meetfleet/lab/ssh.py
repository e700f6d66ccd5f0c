"""The lab's SSH key pair and the check that a host answers SSH as Ansible will reach it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from meetfleet.lab.podman import LabError, require_tool, run_tool

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR")
SSH_TIMEOUT = 15.0


def ensure_key_pair(private_key: Path) -> str:
    """Make an ed25519 key pair without passphrase if missing. Returns present or created."""
    public_key = private_key.with_name(private_key.name + ".pub")
    if private_key.exists() and public_key.exists():
        return "present"
    if private_key.exists() != public_key.exists():
        raise LabError(f"{private_key}: only half of the key pair exists; delete "
                       f"{private_key} and {public_key}, then rerun")
    private_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "meetfleet-lab",
              "-f", str(private_key)], timeout=30, what="ssh-keygen")
    return "created"


def public_key_of(private_key: Path) -> str:
    return private_key.with_name(private_key.name + ".pub").read_text().strip()


def answers_ssh(port: int, user: str, private_key: Path) -> bool:
    """True when `ssh -p PORT USER@127.0.0.1 true` succeeds with the lab key."""
    ssh = require_tool("ssh")
    try:
        result = subprocess.run(
            [ssh, *SSH_OPTIONS, "-i", str(private_key), "-p", str(port), f"{user}@127.0.0.1", "true"],
            capture_output=True, timeout=SSH_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0
