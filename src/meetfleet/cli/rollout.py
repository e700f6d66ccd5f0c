"""`--apply` for tenant commands: after the inventory is written, run exactly the playbooks
and hosts the change touches (meetfleet.rollout.plan), side by side with a log each, then
the smoke checks (meetfleet.rollout.smoke). A failure exits 1 naming the log; the
inventory stays written, and the same command run again applies it (a rerun of
`tenant add` with the same record does not place the tenant again)."""

from __future__ import annotations

import functools
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from meetfleet.cli.output import bad_input, fail, say, table
from meetfleet.fleet import Fleet
from meetfleet.fleet.model import Gateway
from meetfleet.fleet.vault import read_fleet_secret
from meetfleet.rollout.run import Job, PlaybookRun, not_run, run_waves
from meetfleet.rollout.smoke import Check, Route, parse_connect_to, site_of, smoke_checks


@dataclass(frozen=True)
class ApplyOptions:
    apply: bool
    playbooks_dir: Path
    log_dir: Path
    timeout: float
    routes: dict[Route, Route]
    ca_file: str | None
    site_check: bool


def _routes(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[Route, Route]:
    try:
        return dict(parse_connect_to(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


# How this machine reaches the fleet's HTTPS services (smoke checks, an export's recordings).
connect_to_option = click.option(
    "--connect-to", "routes", multiple=True, callback=_routes, metavar="HOST:PORT:ADDRESS:PORT",
    help="Reach HOST:PORT at ADDRESS:PORT, TLS still checked for HOST (as curl's --connect-to; repeatable).")
ca_file_option = click.option("--ca-file", type=click.Path(dir_okay=False, exists=True),
                              help="Trust these CA certificates instead of the system's.")


def ansible_playbook() -> list[str]:
    """The ansible-playbook beside this meetfleet (the same virtualenv), else the PATH's."""
    return [shutil.which("ansible-playbook") or str(Path(sys.executable).parent / "ansible-playbook")]


def apply_options(func: Callable) -> Callable:
    """The --apply options, handed to the command as one `rollout: ApplyOptions`."""
    options = [
        click.option("--apply", "apply", is_flag=True,
                     help="Then run the playbooks the change touches, limited to its hosts, and the smoke checks."),
        click.option("--playbooks", "playbooks_dir", default="playbooks", show_default=True,
                     type=click.Path(file_okay=False, path_type=Path), help="With --apply: the playbooks' directory."),
        click.option("--logs", "log_dir", default=".meetfleet/apply", show_default=True,
                     type=click.Path(file_okay=False, path_type=Path),
                     help="With --apply: each playbook's output goes to LOGS/NAME.log."),
        click.option("--apply-timeout", "apply_timeout", default=3600.0, show_default=True,
                     type=click.FloatRange(60, 14400), help="With --apply: seconds one playbook may run."),
        connect_to_option,
        ca_file_option,
        click.option("--site-check/--no-site-check", default=True, show_default=True,
                     help="Smoke checks: its own Greenlight's health check (the lab has no Greenlight image)."),
    ]

    @functools.wraps(func)  # keeps the options click has attached to func already
    def wrapped(*args: Any, apply: bool, playbooks_dir: Path, log_dir: Path, apply_timeout: float,
                routes: dict[Route, Route], ca_file: str | None, site_check: bool, **kwargs: Any) -> Any:
        rollout = ApplyOptions(apply, playbooks_dir, log_dir, apply_timeout, routes, ca_file, site_check)
        return func(*args, rollout=rollout, **kwargs)

    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


def check_playbooks(rollout: ApplyOptions) -> None:
    """Before anything is written: --apply needs the playbooks' directory."""
    if rollout.apply and not (rollout.playbooks_dir / "site.yml").is_file():
        bad_input(f"--playbooks: {rollout.playbooks_dir} has no site.yml (run from the repository, or name the "
                  "playbooks' directory)", kind="no_playbooks")


def rerun_commands(waves: list[list[Job]], inventory_dir: Path, playbooks_dir: Path) -> list[str]:
    return [shlex.join(["ansible-playbook", "-i", str(inventory_dir), *job.args(), str(playbooks_dir / job.playbook)])
            for wave in waves for job in wave]


def apply_change(waves: list[list[Job]], after: Fleet, name: str, inventory_dir: Path, rollout: ApplyOptions, *,
                 as_json: bool, rerun: str) -> dict[str, Any]:
    """Run `waves` (meetfleet.rollout.plan's), then, when tenant `name` is still in the fleet,
    the smoke checks. The report as JSON; exit 1 on a failed playbook or check, naming `rerun`."""
    started = time.monotonic()
    if waves:
        plan = " then ".join(" + ".join(f"{job.playbook} on {', '.join(job.hosts)}" for job in wave) for wave in waves)
        say(f"applying: {plan}; logs in {rollout.log_dir}/", err=True)

    def finished(run: PlaybookRun) -> None:
        state = "ok" if run.ok else f"FAILED (exit {run.returncode})"
        say(f"  {run.playbook}: {state} after {run.seconds} s, {run.changed} changed", err=True)

    runs = run_waves(waves, rollout.playbooks_dir, [*ansible_playbook(), "-i", str(inventory_dir)], rollout.log_dir,
                     finished, cwd=Path.cwd(), timeout=rollout.timeout)
    report: dict[str, Any] = {"playbooks": [run.as_dict() for run in runs],
                              "changed": sum(run.changed for run in runs)}
    if not as_json and runs:
        table("Applied", ["playbook", "outcome", "seconds", "hosts", "changed", "changed hosts", "log"],
              [(run.playbook, "ok" if run.ok else f"exit {run.returncode}", run.seconds, ", ".join(run.hosts),
                run.changed, ", ".join(run.changed_hosts) or "-", run.log) for run in runs])
    failed = [run for run in runs if not run.ok]
    if failed:
        commands = rerun_commands(waves, inventory_dir, rollout.playbooks_dir)
        if not as_json:
            say("the playbooks of this change:\n" + "\n".join(f"  {command}" for command in commands), err=True)
        fail(f"{', '.join(run.playbook for run in failed)} failed (see {', '.join(run.log for run in failed)}); "
             f"the inventory is written: once the cause is fixed, {rerun}",
             kind="playbook_failed", playbooks=report["playbooks"], not_run=not_run(waves, runs), commands=commands)
    checks = []
    if name in after.tenants:
        say(f"smoke checks for {name}", err=True)
        checks = run_smoke_checks(after, name, inventory_dir, rollout)
    report.update(checks=[check.as_dict() for check in checks], seconds=round(time.monotonic() - started, 1))
    if not as_json and checks:
        table("Smoke checks", ["check", "target", "outcome", "detail"],
              [(c.name, c.target, "ok" if c.ok else "FAILED", c.detail) for c in checks])
    if not all(check.ok for check in checks):
        fail(f"smoke check failed: {'; '.join(f'{c.name} {c.target}: {c.detail}' for c in checks if not c.ok)}",
             kind="smoke_check_failed", **report)
    return report


def run_smoke_checks(fleet: Fleet, name: str, inventory_dir: Path, rollout: ApplyOptions) -> list[Check]:
    tenant = fleet.tenants[name]
    gateway = None
    if fleet.gateway is not None:
        gateway = (fleet.gateway.endpoint(name), read_fleet_secret(inventory_dir, Gateway.secret_variable(name)))
    sites = []
    if rollout.site_check and tenant.greenlight is not None and tenant.origin_server_names:
        sites = [site_of(tenant.origin_server_names)]
    elif tenant.greenlight is not None:
        say("note: --no-site-check: its Greenlight's health check was not tried", err=True)
    return smoke_checks(gateway, sites, rollout.routes, rollout.ca_file)
