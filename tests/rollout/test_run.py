"""The playbook runner (meetfleet.rollout.run): waves side by side, the next after, a stop on
failure, --limit per job, and the PLAY RECAP read. Driven with the ansible-playbook stand-in
(tests/rollout/ansible_standin.py), so the order and the stop are real process behaviour."""

from __future__ import annotations

from pathlib import Path

from meetfleet.rollout.run import Job, Recap, not_run, recap_of, run_waves
from tests.rollout.ansible_standin import calls, events, fake_ansible

RECAP = """PLAY RECAP *********************************************************************
bbb-eu-1.lab               : ok=40   changed=3    unreachable=0    failed=0    skipped=4    rescued=0    ignored=0
bbb-eu-2.lab               : ok=12   changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
turn-eu-1.lab              : ok=9    changed=2    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
"""


def jobs(*names: str) -> list[Job]:
    return [Job(name) for name in names]


def test_the_recap_counts_hosts_changes_and_failed_or_unreachable_hosts():
    recap = recap_of("noise\n" + RECAP)
    assert recap.hosts == ("bbb-eu-1.lab", "bbb-eu-2.lab", "turn-eu-1.lab")
    assert recap.changed == 5
    assert recap.changed_hosts == ("bbb-eu-1.lab", "turn-eu-1.lab")
    assert recap.failed_hosts == ("bbb-eu-2.lab", "turn-eu-1.lab")
    assert recap_of("no recap at all") == Recap((), 0, (), ())


def test_a_wave_runs_side_by_side_and_the_next_waits_for_it(tmp_path: Path):
    seen = []
    runs = run_waves([jobs("a.yml", "b.yml", "c.yml"), jobs("monitoring.yml")], tmp_path, fake_ansible(tmp_path),
                     tmp_path / "logs", seen.append, cwd=tmp_path)
    log = events(tmp_path)
    first_ends = max(log.index(f"end {name}") for name in ("a.yml", "b.yml", "c.yml"))
    assert max(log.index(f"start {name}") for name in ("a.yml", "b.yml", "c.yml")) < min(
        log.index(f"end {name}") for name in ("a.yml", "b.yml", "c.yml"))  # all three started before any ended
    assert log.index("start monitoring.yml") > first_ends
    assert [run.playbook for run in runs] == ["a.yml", "b.yml", "c.yml", "monitoring.yml"]
    assert all(run.ok and run.hosts == (f"{run.playbook}.host",) and run.changed == 1 for run in runs)
    assert sorted(run.playbook for run in seen) == sorted(run.playbook for run in runs)  # progress per playbook
    assert "b.yml.host : ok=2" in (tmp_path / "logs" / "b.log").read_text()


def test_a_failure_stops_before_the_next_wave_and_its_wave_still_finishes(tmp_path: Path):
    waves = [jobs("a.yml", "b.yml"), jobs("monitoring.yml")]
    runs = run_waves(waves, tmp_path, fake_ansible(tmp_path, fail="a.yml"), tmp_path / "logs", lambda run: None,
                     cwd=tmp_path)
    assert {run.playbook: run.returncode for run in runs} == {"a.yml": 2, "b.yml": 0}
    assert "start monitoring.yml" not in events(tmp_path)
    assert not_run(waves, runs) == ["monitoring.yml"]


def test_a_job_with_hosts_is_limited_to_them_and_one_without_is_not(tmp_path: Path):
    runs = run_waves([[Job("gateway.yml", ("gw-1.example", "gw-2.example")), Job("base.yml")]], tmp_path,
                     fake_ansible(tmp_path), tmp_path / "logs", lambda run: None, cwd=tmp_path)
    args = {line.split(" args: ")[0]: line.split(" args: ")[1] for line in calls(tmp_path)}
    assert args["gateway.yml"].endswith(f"--limit gw-1.example,gw-2.example {tmp_path}/gateway.yml")
    assert "--limit" not in args["base.yml"]
    assert {run.playbook: run.hosts for run in runs} == {
        "gateway.yml": ("gw-1.example", "gw-2.example"), "base.yml": ("base.yml.host",)}
