"""`meetfleet lab apply`: site.yml's playbooks side by side, the fleet-watching ones after.

The plan is checked against the repository's own site.yml; the runner with a stand-in
for ansible-playbook (a shell script that logs when it starts and ends and prints a
PLAY RECAP as ansible-playbook does), so the order and the stop on failure are real
process behaviour. The real playbooks run in tests/playbooks/test_lab_check_mode.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meetfleet.lab.apply import READS_THE_FLEET, PlanError, Recap, apply_waves, plan_waves, recap_of
from tests.conftest import REPO

SITE = REPO / "playbooks" / "site.yml"
MEETFLEET = Path(sys.executable).parent / "meetfleet"

RECAP = """PLAY RECAP *********************************************************************
bbb-eu-1.lab               : ok=40   changed=3    unreachable=0    failed=0    skipped=4    rescued=0    ignored=0
bbb-eu-2.lab               : ok=12   changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
turn-eu-1.lab              : ok=9    changed=2    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
"""


def test_the_plan_runs_every_import_of_site_yml_once_and_monitoring_last():
    imports = [play["ansible.builtin.import_playbook"] for play in yaml.safe_load(SITE.read_text())]
    waves = plan_waves(SITE.read_text())
    assert sorted(name for wave in waves for name in wave) == sorted(imports)
    assert waves[-1] == ["monitoring.yml"]
    assert "monitoring.yml" not in waves[0] and len(waves) == 2
    assert all((REPO / "playbooks" / name).is_file() for wave in waves for name in wave)


def test_a_site_of_only_kind_playbooks_is_one_wave():
    site = "- ansible.builtin.import_playbook: a.yml\n- ansible.builtin.import_playbook: b.yml\n"
    assert plan_waves(site) == [["a.yml", "b.yml"]]
    assert READS_THE_FLEET == ("monitoring.yml",)


@pytest.mark.parametrize(("text", "says"), [
    ("- hosts: all\n  roles: [base]\n", "play 1 is not an ansible.builtin.import_playbook"),
    ("- ansible.builtin.import_playbook: a.yml\n- name: x\n", "play 2 is not"),
    ("{}", "expected a list of plays"),
    ("- [unclosed\n", "not YAML"),
])
def test_a_site_yml_it_cannot_split_is_refused_naming_the_file_and_play(text, says):
    with pytest.raises(PlanError, match=says) as raised:
        plan_waves(text, "playbooks/site.yml")
    assert str(raised.value).startswith("playbooks/site.yml: ")


def test_the_recap_counts_hosts_changes_and_failed_or_unreachable_hosts():
    recap = recap_of("noise\n" + RECAP)
    assert recap.hosts == ("bbb-eu-1.lab", "bbb-eu-2.lab", "turn-eu-1.lab")
    assert recap.changed == 5
    assert recap.changed_hosts == ("bbb-eu-1.lab", "turn-eu-1.lab")
    assert recap.failed_hosts == ("bbb-eu-2.lab", "turn-eu-1.lab")
    assert recap_of("no recap at all") == Recap((), 0, (), ())


def fake_ansible(tmp_path: Path, fail: str = "") -> list[str]:
    """An ansible-playbook stand-in: logs start and end of each playbook to events, waits a
    moment so overlapping runs overlap, exits 2 for the playbook named `fail`."""
    script = tmp_path / "ansible-playbook"
    script.write_text(f"""#!/bin/sh
for arg; do last="$arg"; done
name=$(basename "$last")
echo "start $name" >> {tmp_path}/events
echo "$name args: $*" >> {tmp_path}/args
sleep 0.3
echo "PLAY RECAP ***"
echo "$name.host : ok=2 changed=1 unreachable=0 failed=0"
echo "end $name" >> {tmp_path}/events
[ "$name" = "{fail}" ] && exit 2
exit 0
""")
    script.chmod(0o755)
    return [str(script), "-i", "inventories/lab"]


def events(tmp_path: Path) -> list[str]:
    return (tmp_path / "events").read_text().split("\n")[:-1]


def test_a_wave_runs_side_by_side_and_the_next_waits_for_it(tmp_path):
    seen = []
    runs = apply_waves([["a.yml", "b.yml", "c.yml"], ["monitoring.yml"]], tmp_path, fake_ansible(tmp_path),
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


def test_a_failure_stops_before_the_next_wave_and_its_wave_still_finishes(tmp_path):
    runs = apply_waves([["a.yml", "b.yml"], ["monitoring.yml"]], tmp_path, fake_ansible(tmp_path, fail="a.yml"),
                       tmp_path / "logs", lambda run: None, cwd=tmp_path)
    assert {run.playbook: run.returncode for run in runs} == {"a.yml": 2, "b.yml": 0}
    assert "start monitoring.yml" not in events(tmp_path)


def test_the_command_reports_a_failed_playbook_as_json_with_exit_1(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = fake_ansible(bin_dir, fail="bbb.yml")[0]
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "site.yml").write_text("- ansible.builtin.import_playbook: bbb.yml\n"
                                        "- ansible.builtin.import_playbook: turn.yml\n"
                                        "- ansible.builtin.import_playbook: monitoring.yml\n")
    env = {**os.environ, "PATH": f"{Path(fake).parent}:{os.environ['PATH']}"}
    result = subprocess.run([str(MEETFLEET), "lab", "apply", "--inventory", str(REPO / "inventories" / "lab"),
                             "--playbooks", str(playbooks), "--logs", str(tmp_path / "logs"), "--json"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "playbook_failed"
    assert error["not_run"] == ["monitoring.yml"]
    assert {p["playbook"]: p["ok"] for p in error["playbooks"]} == {"bbb.yml": False, "turn.yml": True}
    assert str(tmp_path / "logs" / "bbb.log") in error["message"]


def test_check_passes_check_mode_to_every_playbook_and_names_the_hosts_that_would_change(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = fake_ansible(bin_dir)[0]
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "site.yml").write_text("- ansible.builtin.import_playbook: bbb.yml\n"
                                        "- ansible.builtin.import_playbook: monitoring.yml\n")
    env = {**os.environ, "PATH": f"{Path(fake).parent}:{os.environ['PATH']}"}
    result = subprocess.run([str(MEETFLEET), "lab", "apply", "--check",
                             "--inventory", str(REPO / "inventories" / "lab"), "--playbooks", str(playbooks),
                             "--logs", str(tmp_path / "logs"), "--json"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["check"] is True
    assert {p["playbook"]: p["changed_hosts"] for p in report["playbooks"]} == {
        "bbb.yml": ["bbb.yml.host"], "monitoring.yml": ["monitoring.yml.host"]}
    args = (bin_dir / "args").read_text().splitlines()
    assert len(args) == 2 and all(" --check " in line for line in args)


def test_the_command_refuses_a_directory_without_site_yml_with_exit_2(tmp_path):
    result = subprocess.run([str(MEETFLEET), "lab", "apply", "--playbooks", str(tmp_path), "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["kind"] == "no_site"
    assert f"{tmp_path}/site.yml: no such file" in result.stderr
