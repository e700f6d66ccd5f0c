"""Helpers shared by the tests: run the command as a user would, compare inventories."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from meetfleet.cli.main import cli

# Capacity sources a developer may have exported must not leak into tests.
NO_SOURCES = {"MEETFLEET_PROMETHEUS_URL": "", "MEETFLEET_EXPORTER_URL": ""}


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """`meetfleet ARGS` in-process, with no capacity source from the environment."""
    return CliRunner().invoke(cli, list(args), env={**NO_SOURCES, **(env or {})})


def flat(text: str) -> str:
    """Output with rich's line wrapping undone, for matching sentences."""
    return " ".join(text.split())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, byte for byte: to prove nothing was written."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def with_gateway(inventory: Path, url: str, secrets: dict[str, str]) -> Path:
    """The inventory with fleet_gateway at `url` and a plain lab-style vault (0600) holding
    `secrets` (variable: value)."""
    (inventory / "group_vars/all/gateway.yml").write_text(f"fleet_gateway:\n  url: {url}\n")
    vault = inventory / "group_vars/all/vault.yml"
    vault.write_text("".join(f"{key}: {value}\n" for key, value in secrets.items()))
    vault.chmod(0o600)
    return inventory
