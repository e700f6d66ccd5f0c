"""Atomic, comment-keeping edits of the inventory.

Every write goes the same way: the inventory must validate before the edit; the edited
file is rendered with ruamel.yaml's round-trip mode (comments, order, quoting and
indentation kept); the whole inventory is validated again with the edit applied, in an
overlay directory of symlinks (no copy of any secret); only then is the new text
written to a temporary file beside the original, fsynced, given the original's mode and
moved over it with os.replace. Any failure before the rename leaves the inventory
byte-for-byte as it was; a rerun starts from scratch. All of it happens under the
inventory's lock (fleet/lock.py), so concurrent writers cannot lose each other's edits.

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
from meetfleet.fleet.loader import load_inventory
from meetfleet.fleet.lock import inventory_lock
from meetfleet.fleet.model import Fleet
from meetfleet.fleet.yamlio import VAULT_HEADER

NEW_FILE_MODE = 0o644


class InventoryWriteError(InventoryError):
    """A write was refused: the inventory, or the inventory with the edit, does not validate."""

    def __init__(self, what: str, problems: list[Problem]):
        self.what = what
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


def _render(path: Path, mutate: Callable[[CommentedMap], None]) -> str:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text.lstrip().startswith(VAULT_HEADER):
        raise InventoryWriteError(f"{path} is vault-encrypted",
                                  [Problem(path, "(file)", "cannot edit an encrypted file")])
    yaml, data = _yaml(text)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise InventoryWriteError(f"editing {path}", [Problem(path, "(file)", "must be a mapping of variables")])
    mutate(data)
    return _dump(yaml, data)


@contextlib.contextmanager
def _overlay(directory: Path, edited: Path, new_text: str) -> Iterator[Path]:
    """The inventory as it would be after the edit: symlinks to every file, one file replaced."""
    with tempfile.TemporaryDirectory(prefix="meetfleet-overlay-") as tmp:
        root = Path(tmp) / directory.name
        for here, _dirs, files in os.walk(directory):
            target = root / Path(here).relative_to(directory)
            target.mkdir(parents=True, exist_ok=True)
            for name in files:
                (target / name).symlink_to(Path(here, name).resolve())
        overlaid = root / edited.relative_to(directory)
        overlaid.parent.mkdir(parents=True, exist_ok=True)
        if overlaid.is_symlink():
            overlaid.unlink()
        overlaid.write_text(new_text, encoding="utf-8")
        yield root


def _unoverlay(problems: list[Problem], overlay: Path, directory: Path) -> list[Problem]:
    """Name the real files in problems found in the overlay."""
    out = []
    for p in problems:
        file = p.file
        if file is not None and file.is_relative_to(overlay):
            file = directory / file.relative_to(overlay)
        out.append(Problem(file, p.key, p.message))
    return out


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


def edit_file(directory: str | Path, path: Path, mutate: Callable[[CommentedMap], None], what: str, *,
              write: bool = True) -> Fleet:
    """Apply `mutate` to the YAML mapping in `path` (inside inventory `directory`) atomically.

    Returns the fleet as loaded after the edit. Raises InventoryWriteError, leaving every
    file as it was, when the inventory does not validate before or after the edit. With
    write=False only the validation runs (is this edit acceptable?) and nothing is written.
    """
    directory = Path(directory)
    with inventory_lock(directory):
        if write:
            _remove_stale_temporaries(directory, _write_target(path).parent)
        try:
            load_inventory(directory)
        except InventoryError as exc:
            raise InventoryWriteError(f"{what}: the inventory does not validate as it is", exc.problems) from exc
        new_text = _render(path, mutate)
        with _overlay(directory, path, new_text) as overlay:
            try:
                fleet = load_inventory(overlay)  # exactly what the directory holds once replaced
            except InventoryError as exc:
                raise InventoryWriteError(f"{what}: the inventory would not validate",
                                          _unoverlay(exc.problems, overlay, directory)) from exc
        if write:
            _replace_atomically(path, new_text)
        return fleet


# --- where keys live ------------------------------------------------------------------


def _defines(path: Path, key: str) -> bool:
    """`key` is a top-level key of the file (top-level keys start a line; no full parse needed)."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith(VAULT_HEADER):
        return False
    return re.search(rf"^{re.escape(key)}[ \t]*:", text, re.MULTILINE) is not None


def _vars_files(directory: Path, owner: str) -> list[Path]:
    """The files Ansible reads for group or host `owner` under `directory`, in its order."""
    files = [directory / f"{owner}{ext}" for ext in (".yml", ".yaml", "")]
    found = [f for f in files if f.is_file()]
    sub = directory / owner
    if sub.is_dir():
        found += sorted(f for f in sub.iterdir() if f.is_file() and f.suffix in (".yml", ".yaml", ""))
    return found


def host_vars_file(directory: str | Path, host: str, key: str) -> Path:
    """The host_vars file to write `key` of `host` into: where it is, else the host's file."""
    files = _vars_files(Path(directory) / "host_vars", host)
    for f in files:
        if _defines(f, key):
            return f
    plain = [f for f in files if not f.read_text(encoding="utf-8").lstrip().startswith(VAULT_HEADER)]
    if plain:
        return plain[0]
    sub = Path(directory) / "host_vars" / host
    return sub / "main.yml" if sub.is_dir() else Path(directory) / "host_vars" / f"{host}.yml"


def tenants_file(directory: str | Path) -> Path:
    """The group_vars/all file holding fleet_tenants (group_vars/all/tenants.yml if none does)."""
    files = _vars_files(Path(directory) / "group_vars", "all")
    for f in files:
        if _defines(f, "fleet_tenants"):
            return f
    all_dir = Path(directory) / "group_vars" / "all"
    return all_dir / "tenants.yml" if all_dir.is_dir() or not files else files[0]


# --- the edits the commands make ------------------------------------------------------


def set_host_var(directory: str | Path, host: str, key: str, value: Any) -> Fleet:
    path = host_vars_file(directory, host, key)

    def mutate(data: CommentedMap) -> None:
        data[key] = value

    return edit_file(directory, path, mutate, f"set {key} of {host}")


def check_tenant(directory: str | Path, name: str, fields: dict[str, Any]) -> Fleet:
    """Would adding tenant `name` with `fields` validate? InventoryWriteError if not; writes nothing."""
    return set_tenant(directory, name, fields, create=True, write=False)


def set_tenant(directory: str | Path, name: str, fields: dict[str, Any], *, create: bool,
               write: bool = True) -> Fleet:
    """Add tenant `name` (create=True, refused if it exists) or update fields of an existing one."""
    path = tenants_file(directory)

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

    return edit_file(directory, path, mutate, f"{'add' if create else 'update'} tenant {name}", write=write)
