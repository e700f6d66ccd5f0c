"""ansible-playbook runs side by side, in waves, each logged to its own file, with what its
PLAY RECAP says. A wave starts once the one before it has passed; a failure stops there.
Used by `lab apply` (site.yml's playbooks) and `tenant ... --apply` (the playbooks a tenant's
change needs, each limited to its hosts)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

# "host : ok=3 changed=1 unreachable=0 failed=0 ..." in PLAY RECAP.
_RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Job:
    """One playbook to run, limited to `hosts` (all of its hosts when empty)."""

    playbook: str
    hosts: tuple[str, ...] = ()

    def args(self) -> list[str]:
        return ["--limit", ",".join(self.hosts)] if self.hosts else []


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
            out.write(f"\nmeetfleet: stopped after {timeout:.0f} s\n")
            returncode = 124
    recap = recap_of(log.read_text(errors="replace"))
    return PlaybookRun(playbook.name, returncode, round(time.monotonic() - started, 1), recap.hosts,
                       recap.changed, recap.changed_hosts, recap.failed_hosts, str(log))


def run_waves(waves: Sequence[Sequence[Job]], playbooks_dir: Path, command: Sequence[str], log_dir: Path,
              progress: Callable[[PlaybookRun], None], *, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 3600.0) -> list[PlaybookRun]:
    """Run each wave's jobs concurrently; stop before the next wave if one failed."""
    log_dir.mkdir(parents=True, exist_ok=True)
    runs: list[PlaybookRun] = []

    def one(job: Job) -> PlaybookRun:
        run = run_playbook([*command, *job.args()], playbooks_dir / job.playbook,
                           log_dir / f"{Path(job.playbook).stem}.log", cwd, env, timeout)
        progress(run)
        return run

    for wave in waves:
        with ThreadPoolExecutor(max_workers=max(1, len(wave))) as pool:
            done = list(pool.map(one, wave))
        runs.extend(done)
        if not all(run.ok for run in done):
            break
    return runs


def not_run(waves: Sequence[Sequence[Job]], runs: Sequence[PlaybookRun]) -> list[str]:
    """The playbooks of `waves` a failure stopped before they started."""
    started = {run.playbook for run in runs}
    return [job.playbook for wave in waves for job in wave if Path(job.playbook).name not in started]
