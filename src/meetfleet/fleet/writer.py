"""Atomic, comment-keeping edits of the inventory, in one session per command.

`with edit_inventory(directory, what) as edit:` takes the inventory's lock once
(fleet/lock.py: concurrent writers cannot lose each other's edits, nor both count on the
same spare capacity), loads and validates the inventory once (`edit.fleet`), stages the
command's edits (each file rendered with ruamel.yaml's round-trip mode: comments, order,
quoting and indentation kept), validates the whole inventory with them once (parsing only
the staged texts: every other file was read when the session opened), and only then
writes each new text to a temporary file beside the original, fsynced, given the
original's mode and moved over it with os.replace. Any failure before the rename leaves
the inventory byte-for-byte as it was; a rerun starts from scratch.

A file that is a symlink stays one: the write goes to its target. A write killed between
creating its temporary file and the rename leaves that file behind; the next write (under
the lock, so no other writer can still be using one) removes every such temporary.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from meetfleet.fleet.errors import InventoryError, Problem
from meetfleet.fleet.loader import Inventory, open_inventory
from meetfleet.fleet.lock import inventory_lock
from meetfleet.fleet.model import Fleet
from meetfleet.fleet.yamlio import VAULT_HEADER, YamlDoc

NEW_FILE_MODE = 0o644


class InventoryWriteError(InventoryError):
    """A write was refused: the inventory, or the inventory with the edit, does not validate.

    `invalid_before`: the inventory was already invalid when the edit session opened (what
    a command reports as an invalid inventory, as a plain load would)."""

    def __init__(self, what: str, problems: list[Problem], *, invalid_before: bool = False):
        self.what = what
        self.invalid_before = invalid_before
        super().__init__(problems)

    def render(self) -> str:
        return f"refusing to write ({self.what}); nothing was changed.\n{super().render()}"


# (mapping, sequence, offset) indentations tried, the usual ones first. The file's own
# style is the one that reproduces it byte for byte, so an edit changes only what it edits.
_INDENT_STYLES = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0), (2, 4, 0), (3, 3, 0))


def _yaml_with(style: tuple[int, int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.allow_duplicate_keys = False
    yaml.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _yaml(text: str) -> tuple[YAML, Any]:
    """A round-trip YAML set to the file's indentation, and the file's data (None if empty)."""
    if not text.strip():
        return _yaml_with(_INDENT_STYLES[0]), None
    for style in _INDENT_STYLES:
        yaml = _yaml_with(style)
        data = yaml.load(text)
        if _dump(yaml, data) == text:
            return yaml, data
    yaml = _yaml_with(_INDENT_STYLES[0])
    return yaml, yaml.load(text)


def _render(path: Path, text: str, mutate: Callable[[CommentedMap], None]) -> str:
    yaml, data = _yaml(text)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise InventoryWriteError(f"editing {path}", [Problem(path, "(file)", "must be a mapping of variables")])
    mutate(data)
    return _dump(yaml, data)


# Temporary files: ".NAME.meetfleet-XXXXXXXX.tmp" beside the file they replace.
_TMP_MARK = ".meetfleet-"
_TMP_SUFFIX = ".tmp"
_TMP_NAME = re.compile(rf"^\..+{re.escape(_TMP_MARK)}[A-Za-z0-9_]+{re.escape(_TMP_SUFFIX)}$")


def _remove_stale_temporaries(*directories: Path) -> None:
    """Remove what killed writes left (only our own naming pattern). Call with the lock held."""
    for top in directories:
        for here, _dirs, files in os.walk(top):
            for name in files:
                if _TMP_NAME.match(name):
                    with contextlib.suppress(FileNotFoundError):
                        Path(here, name).unlink()


def _write_target(path: Path) -> Path:
    """The file to replace: a symlink's target (so the link stays a link), else the path itself."""
    return path.resolve() if path.is_symlink() else path


def _replace_atomically(path: Path, text: str) -> None:
    path = _write_target(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else NEW_FILE_MODE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}{_TMP_MARK}", suffix=_TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


class InventoryEdit:
    """Edits staged on one loaded inventory; validated together, written by `commit`."""

    def __init__(self, inventory: Inventory, what: str) -> None:
        self.inventory = inventory
        self.what = what
        self.staged: dict[Path, str] = {}
        self._written: Fleet | None = None

    @property
    def fleet(self) -> Fleet:
        """The fleet as loaded when the session opened (before the staged edits)."""
        return self.inventory.fleet

    @property
    def directory(self) -> Path:
        return self.inventory.directory

    def _text(self, path: Path) -> str:
        if path in self.staged:
            return self.staged[path]
        if not self.inventory.files.exists(path):
            return ""
        doc = self.inventory.files.doc(path)
        if isinstance(doc, YamlDoc) and doc.encrypted:
            raise InventoryWriteError(f"{path} is vault-encrypted",
                                      [Problem(path, "(file)", "cannot edit an encrypted file")])
        read = self.inventory.files.text(path)
        if isinstance(read, Problem):
            raise InventoryWriteError(f"reading {path}", [read])
        return read[0]

    def edit(self, path: Path, mutate: Callable[[CommentedMap], None]) -> None:
        """Stage `mutate` applied to the YAML mapping of `path` (comments, order, style kept)."""
        self.staged[path] = _render(path, self._text(path), mutate)

    def validate(self) -> Fleet:
        """The fleet with every staged edit, validated; nothing is written. Only the staged
        texts are parsed: the rest of the inventory was read when the session opened."""
        try:
            return open_inventory(self.directory, self.inventory.files.with_text(self.staged)).fleet
        except InventoryError as exc:
            raise InventoryWriteError(f"{self.what}: the inventory would not validate", exc.problems) from exc

    def commit(self) -> Fleet:
        """Validate the staged edits together, then write each file atomically. Returns the
        fleet as written (as loaded, when nothing was staged)."""
        if not self.staged:
            return self._written or self.fleet
        fleet = self.validate()
        for path, text in self.staged.items():
            _remove_stale_temporaries(_write_target(path).parent)
            _replace_atomically(path, text)
        self.staged.clear()
        self._written = fleet
        return fleet

    # --- where keys live ------------------------------------------------------------

    def host_vars_file(self, host: str, key: str) -> Path:
        """The host_vars file to write `key` of `host` into: where it is, else the host's file."""
        found = self.inventory.defined_in("host_vars", host, key)
        if found is not None:
            return found
        plain = [f for f in self.inventory.vars_files("host_vars", host) if not _encrypted(self.inventory, f)]
        if plain:
            return plain[0]
        sub = self.directory / "host_vars" / host
        return sub / "main.yml" if sub.is_dir() else self.directory / "host_vars" / f"{host}.yml"

    def tenants_file(self) -> Path:
        """The group_vars/all file holding fleet_tenants (group_vars/all/tenants.yml if none does)."""
        found = self.inventory.defined_in("group_vars", "all", "fleet_tenants")
        if found is not None:
            return found
        files = self.inventory.vars_files("group_vars", "all")
        all_dir = self.directory / "group_vars" / "all"
        return all_dir / "tenants.yml" if all_dir.is_dir() or not files else files[0]

    # --- the edits the commands make --------------------------------------------------

    def set_host_var(self, host: str, key: str, value: Any) -> None:
        def mutate(data: CommentedMap) -> None:
            data[key] = value

        self.edit(self.host_vars_file(host, key), mutate)

    def set_tenant(self, name: str, fields: dict[str, Any], *, create: bool) -> None:
        """Stage tenant `name` added (create=True, refused if it exists) or fields of it updated."""
        path = self.tenants_file()

        def mutate(data: CommentedMap) -> None:
            if data.get("fleet_tenants") is None:
                data["fleet_tenants"] = CommentedMap()
            tenants = data["fleet_tenants"]
            if create and name in tenants:
                raise InventoryWriteError(f"add tenant {name}", [
                    Problem(path, f"fleet_tenants.{name}", "already exists (use `meetfleet tenant move` to move it)")])
            if not create and name not in tenants:
                raise InventoryWriteError(f"update tenant {name}", [
                    Problem(path, f"fleet_tenants.{name}", "no such tenant")])
            if create:
                tenants[name] = CommentedMap()
            for key, value in fields.items():
                if isinstance(value, list | tuple):  # short lists inline, as the inventories write them
                    value = CommentedSeq(value)
                    value.fa.set_flow_style()
                tenants[name][key] = value

        self.edit(path, mutate)

    def add_secret(self, variable: str, value: str) -> Path:
        """Stage a new secret `variable` into the inventory's vault file, kept encrypted when it
        is (the vault password from ANSIBLE_VAULT_PASSWORD_FILE). Returns the file.

        Refused (InventoryWriteError, nothing staged) when the variable exists, or when there
        is no vault file: a new plain one would put a secret in git."""
        path = self.vault_file()
        if path is None:
            raise InventoryWriteError(f"add the secret {variable}", [Problem(
                self.directory / "group_vars" / "all" / "vault.yml", "(file)",
                "there is no vault file to keep the secret in: create it with `ansible-vault create`")])

        def mutate(data: CommentedMap) -> None:
            if variable in data:
                raise InventoryWriteError(f"add the secret {variable}", [
                    Problem(path, variable, "already exists; remove it first to make a new one")])
            data[variable] = value

        self._edit_vault(path, variable, f"add the secret {variable}", mutate)
        return path

    def remove_tenant(self, name: str) -> Path:
        """Stage tenant `name` removed from fleet_tenants (refused if it is not there). Only
        its entry goes: the other tenants' records, comments and layout stay as they were."""
        path = self.tenants_file()

        def mutate(data: CommentedMap) -> None:
            tenants = data.get("fleet_tenants")
            if not isinstance(tenants, CommentedMap) or name not in tenants:
                raise InventoryWriteError(f"remove tenant {name}", [
                    Problem(path, f"fleet_tenants.{name}", "no such tenant")])
            del tenants[name]

        self.edit(path, mutate)
        return path

    def remove_secret(self, variable: str) -> Path | None:
        """Stage `variable` removed from the vault file, the reverse of `add_secret`: an
        encrypted vault is decrypted, edited and encrypted again (ANSIBLE_VAULT_PASSWORD_FILE),
        a plain one keeps its mode. Returns the file, or None (nothing staged) when there is
        no vault file or the variable is not in it. A vault that cannot be decrypted is
        refused (InventoryError): a secret must not be left behind unnoticed."""
        path = self.vault_file()
        if path is None:
            return None
        found: list[bool] = []

        def mutate(data: CommentedMap) -> None:
            found.append(variable in data)
            if variable in data:
                del data[variable]

        staged = dict(self.staged)
        self._edit_vault(path, variable, f"remove the secret {variable}", mutate)
        if not found or not found[0]:
            self.staged = staged  # nothing to remove: nothing staged
            return None
        return path

    def _edit_vault(self, path: Path, variable: str, what: str, mutate: Callable[[CommentedMap], None]) -> None:
        """Stage `mutate` applied to the vault file: an encrypted one decrypted, edited and
        encrypted again with the same password; a plain one edited as it is."""
        from meetfleet.fleet.vault import decrypt_file, encrypt_file

        read = self.inventory.files.text(path) if path not in self.staged else (self.staged[path], 0)
        if isinstance(read, Problem):
            raise InventoryWriteError(what, [read])
        text = read[0]
        encrypted = text.lstrip().startswith(VAULT_HEADER)
        plain = decrypt_file(path, text, variable) if encrypted else text
        new_plain = _render(path, plain, mutate)
        self.staged[path] = encrypt_file(path, new_plain, variable) + "\n" if encrypted else new_plain

    def vault_file(self) -> Path | None:
        """group_vars/all/vault.yml (or .yaml), where the inventories keep their secrets."""
        for name in ("vault.yml", "vault.yaml"):
            path = self.directory / "group_vars" / "all" / name
            if path in self.staged or self.inventory.files.exists(path):
                return path
        return None

    def check_tenant(self, name: str, fields: dict[str, Any]) -> Fleet:
        """Would adding tenant `name` with `fields` validate? InventoryWriteError if not. Stages nothing."""
        before = dict(self.staged)
        try:
            self.set_tenant(name, fields, create=True)
            return self.validate()
        finally:
            self.staged = before


def _encrypted(inventory: Inventory, path: Path) -> bool:
    doc = inventory.files.doc(path)
    return isinstance(doc, YamlDoc) and doc.encrypted


@contextlib.contextmanager
def edit_inventory(directory: str | Path, what: str) -> Iterator[InventoryEdit]:
    """The one way to change an inventory: lock it once, load it once, stage edits on the
    validated fleet, and (when the block ends without an exception) validate the result
    once and write it atomically. An exception leaves every file as it was.

    Raises InventoryWriteError when the inventory does not validate as it is, or would not
    with the edits; InventoryBusyError when another command holds the lock too long.
    """
    directory = Path(directory)
    with inventory_lock(directory):
        # Under the lock no other writer can still be using one: what killed writes left goes.
        _remove_stale_temporaries(directory)
        try:
            inventory = open_inventory(directory)
        except InventoryError as exc:
            raise InventoryWriteError(f"{what}: the inventory does not validate as it is", exc.problems,
                                      invalid_before=True) from exc
        session = InventoryEdit(inventory, what)
        yield session
        session.commit()


# --- one edit each, for callers that make a single change --------------------------------


def set_host_var(directory: str | Path, host: str, key: str, value: Any) -> Fleet:
    with edit_inventory(directory, f"set {key} of {host}") as edit:
        edit.set_host_var(host, key, value)
        return edit.commit()


def set_tenant(directory: str | Path, name: str, fields: dict[str, Any], *, create: bool) -> Fleet:
    """Add tenant `name` (create=True, refused if it exists) or update fields of an existing one."""
    with edit_inventory(directory, f"{'add' if create else 'update'} tenant {name}") as edit:
        edit.set_tenant(name, fields, create=create)
        return edit.commit()


def check_tenant(directory: str | Path, name: str, fields: dict[str, Any]) -> Fleet:
    """Would adding tenant `name` with `fields` validate? InventoryWriteError if not; writes nothing."""
    with edit_inventory(directory, f"add tenant {name}") as edit:
        return edit.check_tenant(name, fields)
