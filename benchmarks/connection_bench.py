"""How much a task costs over each way Ansible can reach a lab container: podman's connection
plugin (what molecule's podman driver gives) against SSH to the container's own sshd, started
in inetd mode through `podman exec` (what .config/molecule/config.yml sets for the scenarios).

    python benchmarks/connection_bench.py [--tasks 40] [--image localhost/meetfleet-lab:bookworm] [--json]

Starts one throwaway systemd container of the lab image (`meetfleet lab prepare` builds it),
authorises a throwaway key for root, runs the same playbook (TASKS command and stat tasks)
once per connection after a warm-up, prints wall and CPU seconds per connection, and removes
the container. Figures are in docs/testing.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTAINER = "meetfleet-connection-bench"
BIN = Path(sys.executable).parent
SSH_ARGS = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
            "-o ProxyCommand='podman exec -i %h /usr/sbin/sshd -i'")
PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.command: "true"
      changed_when: false
      loop: "{{{{ range({half}) | list }}}}"
    - ansible.builtin.stat: {{path: /etc/passwd}}
      loop: "{{{{ range({half}) | list }}}}"
"""


def podman(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["podman", *args], input=stdin, capture_output=True, text=True, check=True,
                          timeout=120).stdout


def timed_play(inventory: Path, play: Path) -> tuple[float, float]:
    """Wall and CPU seconds (this machine's children) of one ansible-playbook run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(play)], check=True,
                   capture_output=True, timeout=1200, env={"ANSIBLE_PIPELINING": "1", "PATH": "/usr/bin:/bin"})
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=40, help="tasks per run, half command, half stat (40)")
    parser.add_argument("--image", default="localhost/meetfleet-lab:bookworm")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "key")], check=True)
        podman("rm", "-f", "-t", "0", CONTAINER)
        podman("run", "-d", "--name", CONTAINER, "--systemd=always", args.image, "/sbin/init")
        try:
            subprocess.run(["podman", "exec", CONTAINER, "systemctl", "is-system-running", "--wait"],
                           capture_output=True, timeout=120)
            podman("exec", "-i", CONTAINER, "sh", "-c",
                   "install -d -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys",
                   stdin=(work / "key.pub").read_text())
            (work / "play.yml").write_text(PLAY.format(half=max(1, args.tasks // 2)))
            inventories = {
                "podman connection plugin": f"{CONTAINER} ansible_connection=containers.podman.podman",
                "ssh, sshd -i through podman exec": (
                    f'{CONTAINER} ansible_connection=ssh ansible_user=root ansible_ssh_private_key_file={work}/key '
                    f'ansible_ssh_common_args="{SSH_ARGS}" '
                    f"ansible_ssh_extra_args='-o ControlPath={work}/cp-%C'"),
            }
            for name, line in inventories.items():
                inventory = work / "inventory.ini"
                inventory.write_text(line + " ansible_python_interpreter=/usr/bin/python3\n")
                timed_play(inventory, work / "play.yml")  # warm-up: caches, the SSH master connection
                wall, cpu = timed_play(inventory, work / "play.yml")
                results[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                                 "per_task_s": round(wall / (2 * max(1, args.tasks // 2)), 3)}
        finally:
            podman("rm", "-f", "-t", "0", CONTAINER)
    if args.json:
        print(json.dumps({"tasks": 2 * max(1, args.tasks // 2), "connections": results}, indent=2))
    else:
        print(f"{'connection':<36} {'wall s':>8} {'cpu s':>8} {'s per task':>11}")
        for name, figures in results.items():
            print(f"{name:<36} {figures['wall_s']:>8.2f} {figures['cpu_s']:>8.2f} {figures['per_task_s']:>11.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
