"""`meetfleet lab up|apply|status|down`: the local lab of systemd containers reached over SSH."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import click

from meetfleet.cli.options import inventory_option
from meetfleet.cli.output import (
    EXIT_FAILURE,
    bad_input,
    fail,
    handle_inventory_errors,
    json_option,
    print_json,
    say,
    table,
)
from meetfleet.cli.rollout import ansible_playbook
from meetfleet.lab.apply import PlanError, plan_waves
from meetfleet.lab.down import lab_down
from meetfleet.lab.hosts import load_lab_inventory
from meetfleet.lab.settings import DEFAULT_IMAGE, DEFAULT_LABEL_VALUE, DEFAULT_MIRROR, DEFAULT_NETWORK, LabSettings
from meetfleet.lab.status import STATUS_COLUMNS, probe_all, status_rows
from meetfleet.lab.up import Step, lab_up, prepare_machine
from meetfleet.rollout.run import PlaybookRun, not_run, run_waves


def settings_options(func: Callable) -> Callable:
    """Options naming one lab; tests set them (or their env vars) to stay apart from the real lab."""
    options = [
        click.option("--network", envvar="MEETFLEET_LAB_NETWORK", default=DEFAULT_NETWORK, show_default=True,
                     help="Podman network of the lab [env MEETFLEET_LAB_NETWORK]."),
        click.option("--label", "label_value", envvar="MEETFLEET_LAB_LABEL", default=DEFAULT_LABEL_VALUE,
                     show_default=True,
                     help="Value of the meetfleet.lab label on what the lab makes [env MEETFLEET_LAB_LABEL]."),
        click.option("--image-name", envvar="MEETFLEET_LAB_IMAGE", default=DEFAULT_IMAGE, show_default=True,
                     help="Base image of the hosts [env MEETFLEET_LAB_IMAGE]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


lab_inventory_option = inventory_option(help="Lab inventory: one container per host.")


def make_settings(network: str, label_value: str, image_name: str) -> LabSettings:
    return LabSettings(network=network, label_value=label_value, image=image_name,
                       mirror=os.environ.get("MEETFLEET_LAB_MIRROR", DEFAULT_MIRROR))


def progress(message: str) -> None:
    say(f"  {message}", err=True)


@click.group()
def lab() -> None:
    """The local lab: a systemd container under podman per host of the lab inventory,
    reached over SSH on 127.0.0.1 as real hosts are. See docs/lab.md."""


@lab.command()
@lab_inventory_option
@settings_options
@click.option("--wait", "wait_seconds", default=180.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds to wait for every host to answer SSH.")
@json_option
@handle_inventory_errors
def up(inventory_dir: Path, network: str, label_value: str, image_name: str, wait_seconds: float,
       as_json: bool) -> None:
    """Make whatever the lab is missing (podman settings, base image, SSH key, lab secrets,
    network, one container per host) and wait until every host answers SSH. Idempotent."""
    started = time.monotonic()
    inventory = load_lab_inventory(inventory_dir)  # bad input exits 2 before anything changes
    settings = make_settings(network, label_value, image_name)
    steps = lab_up(inventory, settings, progress, wait_seconds)
    report_steps("lab up", steps, started, as_json, f"{len(inventory.hosts)} hosts answer SSH")


@lab.command()
@settings_options
@json_option
def prepare(network: str, label_value: str, image_name: str, as_json: bool) -> None:
    """Only the podman settings and the base image: what molecule scenarios need. Idempotent."""
    started = time.monotonic()
    steps = prepare_machine(make_settings(network, label_value, image_name), progress)
    report_steps("lab prepare", steps, started, as_json, "podman ready")


@lab.command()
@lab_inventory_option
@click.option("--playbooks", "playbooks_dir", default="playbooks", show_default=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Directory of site.yml and the playbooks it imports.")
@click.option("--logs", "log_dir", default=".lab/apply", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Each playbook's output goes to LOGS/NAME.log.")
@click.option("--timeout", "timeout_seconds", default=3600.0, show_default=True, type=click.FloatRange(60, 14400),
              help="Seconds one playbook may run.")
@click.option("--check", "check_mode", is_flag=True,
              help="Ansible's check mode: report what would change, change nothing (site.yml --check, side by side).")
@json_option
@handle_inventory_errors
def apply(inventory_dir: Path, playbooks_dir: Path, log_dir: Path, timeout_seconds: float, check_mode: bool,
          as_json: bool) -> None:
    """Configure the lab as site.yml does, the host kinds side by side: every playbook
    site.yml imports at once, then those that watch the others (monitoring). About half
    site.yml's time on a fresh lab; `--check` after it finds nothing to change (the
    "changed hosts" column says where it would). Exit 1 if a playbook failed (its log named)."""
    site = playbooks_dir / "site.yml"
    if not site.is_file():
        bad_input(f"{site}: no such file (--playbooks names the directory of site.yml)", kind="no_site")
    try:
        waves = plan_waves(site.read_text(), str(site))
    except PlanError as exc:
        bad_input(str(exc), kind="bad_site")
    load_lab_inventory(inventory_dir)  # a bad lab inventory exits 2 before any playbook starts
    started = time.monotonic()
    verb = "checked" if check_mode else "applied"
    changed = "would change" if check_mode else "changed"
    say(f"lab apply{' --check' if check_mode else ''}: "
        f"{' then '.join(' + '.join(job.playbook for job in wave) for wave in waves)}; "
        f"logs in {log_dir}/", err=True)

    def finished(run: PlaybookRun) -> None:
        state = "ok" if run.ok else f"FAILED (exit {run.returncode})"
        progress(f"{run.playbook}: {state} after {run.seconds} s, {run.changed} {changed}")

    command = [*ansible_playbook(), "-i", str(inventory_dir), *(["--check"] if check_mode else [])]
    runs = run_waves(waves, playbooks_dir, command, log_dir, finished, cwd=Path.cwd(), timeout=timeout_seconds)
    elapsed = round(time.monotonic() - started, 1)
    skipped = not_run(waves, runs)
    failed = [run for run in runs if not run.ok]
    if as_json and not failed:
        print_json({"playbooks": [run.as_dict() for run in runs], "check": check_mode, "seconds": elapsed})
        return
    if not as_json:
        table("Lab apply --check" if check_mode else "Lab apply",
              ["playbook", "outcome", "seconds", "hosts", changed, "changed hosts", "failed hosts", "log"],
              [(run.playbook, "ok" if run.ok else f"exit {run.returncode}", run.seconds, len(run.hosts), run.changed,
                ", ".join(run.changed_hosts) or "-", ", ".join(run.failed_hosts) or "-", run.log) for run in runs])
    if failed:
        fail(f"{', '.join(run.playbook for run in failed)} failed (see "
             f"{', '.join(run.log for run in failed)})"
             + (f"; not run: {', '.join(skipped)}" if skipped else ""),
             kind="playbook_failed", playbooks=[run.as_dict() for run in runs], not_run=skipped)
    say(f"lab apply: {len(runs)} playbooks {verb} in {elapsed} s")


def report_steps(command: str, steps: list[Step], started: float, as_json: bool, done: str) -> None:
    elapsed = round(time.monotonic() - started, 1)
    changed = [s for s in steps if s.outcome != "present"]
    if as_json:
        print_json({"steps": [s.as_dict() for s in steps], "changed": len(changed), "seconds": elapsed})
        return
    table("Lab", ["item", "outcome", "detail"], [(s.item, s.outcome, s.detail) for s in steps])
    summary = "nothing to change, all present" if not changed else f"{len(changed)} changed"
    say(f"{command}: {done}; {summary} ({elapsed} s)")


@lab.command()
@lab_inventory_option
@settings_options
@json_option
@handle_inventory_errors
def status(inventory_dir: Path, network: str, label_value: str, image_name: str, as_json: bool) -> None:
    """Each host's container state, systemd state and SSH reachability. Exit 1 unless all healthy."""
    inventory = load_lab_inventory(inventory_dir)
    statuses = probe_all(inventory.hosts, make_settings(network, label_value, image_name))
    healthy = all(s.healthy for s in statuses)
    if as_json:
        print_json({"healthy": healthy, "hosts": [s.as_dict() for s in statuses]})
    else:
        table("Lab hosts", STATUS_COLUMNS, status_rows(statuses))
        unhealthy = [s.host for s in statuses if not s.healthy]
        say("all hosts healthy" if healthy else
            f"not healthy: {', '.join(unhealthy)} (`meetfleet lab up` makes what is missing)")
    if not healthy:
        raise SystemExit(EXIT_FAILURE)


@lab.command()
@settings_options
@inventory_option(default=None, help="Only this inventory's hosts (default: every container with the lab label).")
@click.option("--image", "with_image", is_flag=True, help="Also remove the base image (rebuilt by the next up).")
@json_option
@handle_inventory_errors
def down(network: str, label_value: str, image_name: str, inventory_dir: Path | None, with_image: bool,
         as_json: bool) -> None:
    """Remove the lab's containers and network: only what carries its label."""
    only = {h.name for h in load_lab_inventory(inventory_dir).hosts} if inventory_dir else None
    removed = lab_down(make_settings(network, label_value, image_name), with_image, only)
    if as_json:
        print_json(removed)
        return
    table("Removed", ["kind", "names"], [(kind, ", ".join(names) or "-") for kind, names in removed.items()])
