"""`lab apply`: what site.yml does, with the host kinds side by side.

site.yml imports one playbook per host kind, and Ansible runs them one after another,
although each touches its own hosts: a fresh lab then waits for TURN, BBB, the gateway,
Keycloak and Nextcloud in turn. Here every playbook site.yml imports runs as its own
ansible-playbook process, all at once, except the ones in READS_THE_FLEET, which watch
the others' hosts and so start once those are done. With `lab apply --check` the same plan runs
in Ansible's check mode: what site.yml --check reports, in half the time, since site.yml
is nothing but these imports (plan_waves refuses anything else). After an apply it must
find nothing to change on any host (tests/playbooks/test_lab_check_mode.py).

The plan is pure (`plan_waves`, from site.yml's text); `apply_waves` runs it.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

# Playbooks whose hosts read the others' (the monitoring host scrapes and probes them).
READS_THE_FLEET = ("monitoring.yml",)

# "host : ok=3 changed=1 unreachable=0 failed=0 ..." in PLAY RECAP.
_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


class PlanError(ValueError):
    """site.yml is not the list of imports this command knows how to split."""


@dataclass(frozen=True)
class PlaybookRun:
    playbook: str
    returncode: int
    seconds: float
    hosts: tuple[str, ...]  # every host in its PLAY RECAP
    changed: int  # tasks changed (or, checking, that would change), over all hosts
    changed_hosts: tuple[str, ...]
    failed_hosts: tuple[str, ...]  # failed or unreachable
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "hosts": list(self.hosts), "changed_hosts": list(self.changed_hosts),
                "failed_hosts": list(self.failed_hosts), "ok": self.ok}


def plan_waves(site_text: str, source: str = "site.yml") -> list[list[str]]:
    """site.yml's imports, in waves: the first wave together, then READS_THE_FLEET."""
    try:
        plays = yaml.safe_load(site_text)
    except yaml.YAMLError as exc:
        raise PlanError(f"{source}: not YAML ({exc.__class__.__name__})") from None
    if not isinstance(plays, list) or not plays:
        raise PlanError(f"{source}: expected a list of plays")
    imports = []
    for index, play in enumerate(plays, 1):
        target = play.get("ansible.builtin.import_playbook") if isinstance(play, dict) else None
        if not isinstance(target, str):
            raise PlanError(f"{source}: play {index} is not an ansible.builtin.import_playbook of a file")
        imports.append(target)
    first = [name for name in imports if name not in READS_THE_FLEET]
    last = [name for name in imports if name in READS_THE_FLEET]
    return [wave for wave in (first, last) if wave]


@dataclass(frozen=True)
class Recap:
    hosts: tuple[str, ...]
    changed: int
    changed_hosts: tuple[str, ...]
    failed_hosts: tuple[str, ...]


def recap_of(output: str) -> Recap:
    """Hosts, tasks changed, hosts with changes and hosts failed or unreachable, from a PLAY RECAP."""
    hosts, changed, changed_hosts, failed = set(), 0, set(), set()
    for host, _ok, host_changed, unreachable, host_failed in _RECAP.findall(output):
        hosts.add(host)
        changed += int(host_changed)
        if int(host_changed):
            changed_hosts.add(host)
        if int(unreachable) or int(host_failed):
            failed.add(host)
    return Recap(tuple(sorted(hosts)), changed, tuple(sorted(changed_hosts)), tuple(sorted(failed)))


def run_playbook(command: Sequence[str], playbook: Path, log: Path, cwd: Path, env: dict[str, str] | None,
                 timeout: float) -> PlaybookRun:
    started = time.monotonic()
    with log.open("w") as out:
        try:
            returncode = subprocess.run([*command, str(playbook)], cwd=cwd, env=env, stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\nmeetfleet lab apply: stopped after {timeout:.0f} s\n")
            returncode = 124
    recap = recap_of(log.read_text(errors="replace"))
    return PlaybookRun(playbook.name, returncode, round(time.monotonic() - started, 1), recap.hosts,
                       recap.changed, recap.changed_hosts, recap.failed_hosts, str(log))


def apply_waves(waves: list[list[str]], playbooks_dir: Path, command: Sequence[str], log_dir: Path,
                progress: Callable[[PlaybookRun], None], *, cwd: Path, env: dict[str, str] | None = None,
                timeout: float = 3600.0) -> list[PlaybookRun]:
    """Run each wave's playbooks concurrently; stop before the next wave if one failed."""
    log_dir.mkdir(parents=True, exist_ok=True)
    runs: list[PlaybookRun] = []

    def one(name: str) -> PlaybookRun:
        run = run_playbook(command, playbooks_dir / name, log_dir / f"{Path(name).stem}.log", cwd, env, timeout)
        progress(run)
        return run

    for wave in waves:
        with ThreadPoolExecutor(max_workers=len(wave)) as pool:
            done = list(pool.map(one, wave))
        runs.extend(done)
        if not all(run.ok for run in done):
            break
    return runs
