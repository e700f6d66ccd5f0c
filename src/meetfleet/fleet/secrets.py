"""Secrets in the inventory: find the ones written in plain text.

Secrets belong in the vault: an inline `!vault` value, a variable of a vault-encrypted
file (group_vars/all/vault.yml), or a Jinja reference to such a variable
(`bbb_secret: "{{ vault_bbb_secret_... }}"`). `plaintext_secret_warnings` names every
secret variable the roles read whose value is plain text instead; `meetfleet inventory
check` prints them as warnings, and `--strict` makes them an error.

The lab is the one exception: its `group_vars/all/vault.yml` holds throwaway secrets
that `meetfleet lab up` generates in plain text. A plain vault.yml in group_vars/all/
that git ignores and that only its owner can read (mode 0600 or stricter) is accepted
with a note instead of warnings. The same file tracked by git, or readable by others,
gets a warning per secret.

Reading one secret on purpose (the capacity source's password) is fleet/vault.py's.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meetfleet.fleet.errors import Problem
from meetfleet.fleet.yamlio import LineDict, TaggedValue, YamlDoc

VAULT_TAG = "!vault"
PASSWORD_FILE_ENV = "ANSIBLE_VAULT_PASSWORD_FILE"  # noqa: S105 - the variable's name
# The lab's generated secrets file (git-ignored, 0600): see the module's docstring.
LAB_VAULT_NAMES = ("vault.yml", "vault.yaml")
# Most nested values looked into per variable for secret keys (bbb_turn_servers[].secret).
_MAX_WALK = 10_000
_HINT = ("write a reference to a vault variable ({{ vault_NAME }}), an inline !vault value "
         "(ansible-vault encrypt_string), or move it to a vault-encrypted file")


def is_secret_key(key: str) -> bool:
    """Whether the roles read variable `key` as a secret: bbb_secret, coturn_static_auth_secret,
    capacity_exporter_basic_auth_password, every vault_* variable, any *_secret or *_password
    (and `secret` / `password` inside a structure, as in bbb_turn_servers)."""
    lowered = key.lower()
    return (lowered.startswith("vault_") or lowered in ("secret", "password")
            or lowered.endswith(("_secret", "_password")))


def _is_reference(value: str) -> bool:
    """A Jinja expression that takes its value from elsewhere (a variable or a lookup),
    not a constant written inside braces."""
    if "{{" not in value:
        return False
    from jinja2 import TemplateError, nodes
    from jinja2.sandbox import SandboxedEnvironment

    try:
        tree = SandboxedEnvironment().parse(value)
    except TemplateError:
        return False
    return any(True for _ in tree.find_all((nodes.Name, nodes.Call)))


def _plain(value: Any) -> bool:
    """Whether a secret key's value is a secret in plain text."""
    if isinstance(value, TaggedValue):
        return value.tag != VAULT_TAG
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        return value.strip() != "" and not _is_reference(value)
    return isinstance(value, int | float)


def _plaintext_keys(key: str, value: Any, line: int | None) -> list[tuple[str, int | None]]:
    """(key path, line) of every plain-text secret in variable `key`."""
    found: list[tuple[str, int | None]] = []
    if is_secret_key(key) and _plain(value):
        found.append((key, line))
    stack: list[tuple[str, Any, int | None]] = [(key, value, line)]
    seen = 0
    while stack and seen < _MAX_WALK:
        path, item, at = stack.pop()
        seen += 1
        if isinstance(item, dict):
            for sub, sub_value in item.items():
                sub_line = item.lines.get(sub, at) if isinstance(item, LineDict) else at
                if isinstance(sub, str):
                    if is_secret_key(sub) and _plain(sub_value):
                        found.append((f"{path}.{sub}", sub_line))
                    stack.append((f"{path}.{sub}", sub_value, sub_line))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", sub, at) for i, sub in enumerate(item))
    return sorted(found, key=lambda f: (f[1] or 0, f[0]))


@dataclass
class SecretFindings:
    """Plain-text secrets: warnings (errors under --strict) and notes (the lab's file)."""

    warnings: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


def _git_ignored(path: Path) -> bool:
    try:
        done = subprocess.run(["git", "-C", str(path.parent), "check-ignore", "-q", "--", path.name],
                              capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _throwaway(root: Path, doc: YamlDoc) -> bool:
    """The lab's kind of secrets file: group_vars/all/vault.yml, mode 0600 or stricter,
    ignored by git."""
    return (doc.path.name in LAB_VAULT_NAMES and doc.path.parent == root / "group_vars" / "all"
            and doc.mode & 0o077 == 0 and _git_ignored(doc.path))


def plaintext_secret_warnings(root: Path, docs: list[YamlDoc], *variables: dict[str, dict[str, Any]]) -> SecretFindings:
    """Every plain-text secret among the inventory's variables (`variables`: the loader's
    group_vars and host_vars, each owner's key -> Sourced), located by file and line."""
    findings = SecretFindings()
    modes = {doc.path: doc for doc in docs}
    throwaway: dict[Path, list[str]] = {}  # the lab's kind of file -> its plain secrets
    is_throwaway: dict[Path, bool] = {}
    for owners in variables:
        for owner_vars in owners.values():
            for key, sourced in owner_vars.items():
                if key.startswith("fleet_"):
                    continue  # the model's keys: validated, and none is a secret
                for path, line in _plaintext_keys(key, sourced.value, sourced.line):
                    doc = modes.get(sourced.file)
                    if doc is not None and is_throwaway.setdefault(doc.path, _throwaway(root, doc)):
                        throwaway.setdefault(doc.path, []).append(path)
                        continue
                    where = f"{path} (line {line})" if line else path
                    findings.warnings.append(Problem(sourced.file, where, f"is a secret in plain text; {_HINT}"))
    for path, keys in throwaway.items():
        findings.notes.append(Problem(path, "(file)", (
                f"{len(keys)} plain-text secret{'s' if len(keys) != 1 else ''} accepted: a git-ignored, "
                "owner-only (0600) vault.yml is taken for the lab's throwaway secrets; a real fleet "
                "encrypts it (ansible-vault encrypt)")))
    return findings
