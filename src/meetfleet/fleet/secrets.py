"""Secrets in the inventory: find the ones written in plain text, read one on purpose.

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

`read_fleet_secret` gives a Python process the one secret it needs (the capacity
source's basic-auth password): the variable's value from group_vars/all/, decrypted with
ansible's VaultLib and the password file ANSIBLE_VAULT_PASSWORD_FILE names. No message
ever includes a secret.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meetfleet.fleet.errors import InventoryError, Problem
from meetfleet.fleet.yamlio import VAULT_HEADER, LineDict, TaggedValue, YamlDoc, parse_yaml, read_text

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


# --- reading one secret ----------------------------------------------------------------


def _error(path: Path, key: str, message: str) -> InventoryError:
    return InventoryError([Problem(path, key, message)])


def _vault(path: Path, variable: str) -> Any:
    """ansible's VaultLib with the password of ANSIBLE_VAULT_PASSWORD_FILE (imported only
    when a vault value is met: ansible is slow to import)."""
    password_file = os.environ.get(PASSWORD_FILE_ENV, "")
    if not password_file:
        raise _error(path, variable, f"is vault-encrypted and {PASSWORD_FILE_ENV} is not set "
                                     "(the file holding the vault password)")
    try:
        from ansible.errors import AnsibleError
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultLib, get_file_vault_secret
    except ImportError as exc:  # pragma: no cover - ansible is a dependency
        raise _error(path, variable, f"is vault-encrypted and ansible cannot be imported ({exc})") from None
    try:
        secret = get_file_vault_secret(filename=password_file, vault_id="default", loader=DataLoader())
        secret.load()
    except (AnsibleError, OSError) as exc:
        raise _error(Path(password_file), PASSWORD_FILE_ENV,
                     f"the vault password file cannot be read ({type(exc).__name__})") from None
    return VaultLib([("default", secret)]), AnsibleError


def _decrypt(path: Path, variable: str, ciphertext: str, vault: Any) -> str:
    lib, ansible_error = vault
    try:
        plain = lib.decrypt(ciphertext.strip().encode("utf-8"))
    except ansible_error:
        raise _error(path, variable, f"cannot be decrypted with the vault password of {PASSWORD_FILE_ENV} "
                                     "(wrong password, or not an ansible-vault value)") from None
    except ValueError:  # malformed ciphertext: binascii.Error, bad hex...
        raise _error(path, variable, "cannot be decrypted: not a valid ansible-vault value") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(path, variable, "decrypts to something that is not UTF-8 text") from None


def _secret_files(directory: Path) -> list[Path]:
    group_vars = directory / "group_vars"
    files = [group_vars / name for name in ("all.yml", "all.yaml", "all") if (group_vars / name).is_file()]
    all_dir = group_vars / "all"
    try:
        entries = sorted(all_dir.iterdir()) if all_dir.is_dir() else []
    except OSError as exc:
        raise _error(all_dir, "(directory)", f"cannot be read: {exc.strerror or exc}") from None
    return files + [p for p in entries if p.suffix in (".yml", ".yaml", "") and not p.is_dir()]


def read_fleet_secret(directory: str | Path, variable: str) -> str:
    """The value of `variable` as group_vars/all/ defines it: plain, an inline `!vault`
    value, or a variable of a vault-encrypted file. Raises InventoryError naming the
    file and the variable when it is missing, empty, a template, or cannot be decrypted."""
    root = Path(directory)
    vaults: list[Any] = []  # the VaultLib, made once when first needed

    def decrypt(path: Path, ciphertext: str) -> str:
        if not vaults:
            vaults.append(_vault(path, variable))
        return _decrypt(path, variable, ciphertext, vaults[0])

    encrypted: list[tuple[Path, str]] = []
    for path in _secret_files(root):
        read = read_text(path)
        if isinstance(read, Problem):
            raise InventoryError([read])
        text, mode = read
        if text.lstrip().startswith(VAULT_HEADER):
            encrypted.append((path, text))
            continue
        value = _lookup(path, parse_yaml(path, text, mode), variable)
        if value is not None:
            return _finish(path, variable, value, decrypt)
    for path, text in encrypted:
        value = _lookup(path, parse_yaml(path, decrypt(path, text)), variable, decrypted=True)
        if value is not None:
            return _finish(path, variable, value, decrypt)
    raise _error(root / "group_vars" / "all", variable, "is not defined in group_vars/all/ "
                 "(plain, as an inline !vault value or in a vault-encrypted file)")


def _lookup(path: Path, doc: YamlDoc | Problem, variable: str, decrypted: bool = False) -> Any:
    if isinstance(doc, Problem):
        if decrypted:  # never echo what a YAML error in decrypted text would show
            raise _error(path, "(file)", "decrypts to text that is not valid YAML")
        raise InventoryError([doc])
    if doc.data is None:
        return None
    if not isinstance(doc.data, dict):
        raise _error(path, "(file)", "must be a mapping of variables")
    return doc.data.get(variable)


def _finish(path: Path, variable: str, value: Any, decrypt: Any) -> str:
    if isinstance(value, TaggedValue) and value.tag == VAULT_TAG:
        value = decrypt(path, str(value))
    elif isinstance(value, TaggedValue):
        raise _error(path, variable, f"has the tag {value.tag}; expected a plain or !vault value")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _error(path, variable, "must be a string (a password)")
    value = str(value)
    if "{{" in value or "{%" in value:
        raise _error(path, variable, "is a template; write the value itself (plain, !vault or in a "
                                     "vault-encrypted file), not a reference to another variable")
    if not value:
        raise _error(path, variable, "is empty")
    return value
