"""`lab apply`: what site.yml does, with the host kinds side by side.

site.yml imports one playbook per host kind, and Ansible runs them one after another,
although each touches its own hosts: a fresh lab then waits for TURN, BBB, the gateway,
Keycloak and Nextcloud in turn. Here every playbook site.yml imports runs as its own
ansible-playbook process, all at once, except the ones in READS_THE_FLEET, which watch
the others' hosts and so start once those are done. With `lab apply --check` the same plan runs
in Ansible's check mode: what site.yml --check reports, in half the time, since site.yml
is nothing but these imports (plan_waves refuses anything else). After an apply it must
find nothing to change on any host (tests/playbooks/test_lab_check_mode.py).

The plan is pure (`plan_waves`, from site.yml's text); meetfleet.rollout.run runs it.
"""

from __future__ import annotations

import yaml

from meetfleet.rollout.run import Job

# Playbooks whose hosts read the others' (the monitoring host scrapes and probes them).
READS_THE_FLEET = ("monitoring.yml",)


class PlanError(ValueError):
    """site.yml is not the list of imports this command knows how to split."""


def plan_waves(site_text: str, source: str = "site.yml") -> list[list[Job]]:
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
    return [[Job(name) for name in wave] for wave in (first, last) if wave]
