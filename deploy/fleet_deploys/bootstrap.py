"""Make a fresh host ready for Ansible to take over.

A new cloud VM or a partner's machine answers SSH as root and little else. Ansible
needs Python (and python3-apt for its apt module) and sudo for the admin users the
base role creates; the host should know its own name (BBB and TLS need it); and on a
cloud VM, cloud-init must have finished before anything touches apt or it races for
the dpkg lock.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.server import Which
from pyinfra.operations import apt, server

ANSIBLE_NEEDS = ["python3", "python3-apt", "sudo"]


@deploy("Bootstrap for Ansible")
def bootstrap_for_ansible() -> None:
    if host.get_fact(Which, command="cloud-init"):
        server.shell(
            name="Wait for cloud-init to finish (it holds the dpkg lock on first boot)",
            commands=["cloud-init status --wait >/dev/null || true"],
        )
    apt.packages(
        name="Install what Ansible needs (Python, python3-apt, sudo)",
        packages=ANSIBLE_NEEDS,
        update=True,
        cache_time=3600,
    )
    server.hostname(name="Set the hostname to the inventory name", hostname=host.name)
