"""A stand-in for ansible-playbook, for tests of what runs it: a shell script that logs when
each playbook starts and ends and with which arguments, waits a moment so overlapping runs
overlap, prints a PLAY RECAP as ansible-playbook does (one host per --limit entry, else
PLAYBOOK.host), and exits 2 for the playbook named `fail`. The real playbooks run in the
lab tests (tests/playbooks)."""

from __future__ import annotations

from pathlib import Path


def fake_ansible(directory: Path, fail: str = "", changed: int = 1) -> list[str]:
    script = directory / "ansible-playbook"
    script.write_text(f"""#!/bin/sh
limit=""
prev=""
for arg; do
  [ "$prev" = "--limit" ] && limit="$arg"
  prev="$arg"
  last="$arg"
done
name=$(basename "$last")
echo "start $name" >> {directory}/events
echo "$name args: $*" >> {directory}/args
sleep 0.3
echo "PLAY RECAP ***"
if [ -n "$limit" ]; then
  for host in $(echo "$limit" | tr ',' ' '); do
    echo "$host : ok=2 changed={changed} unreachable=0 failed=0"
  done
else
  echo "$name.host : ok=2 changed={changed} unreachable=0 failed=0"
fi
echo "end $name" >> {directory}/events
[ "$name" = "{fail}" ] && exit 2
exit 0
""")
    script.chmod(0o755)
    return [str(script), "-i", "inventories/lab"]


def events(directory: Path) -> list[str]:
    return (directory / "events").read_text().split("\n")[:-1]


def calls(directory: Path) -> list[str]:
    """Each run's arguments, one line per run, in the order they started."""
    path = directory / "args"
    return path.read_text().splitlines() if path.exists() else []
