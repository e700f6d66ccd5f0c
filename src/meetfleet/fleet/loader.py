"""Load and validate an inventory directory: the one way Python reads the fleet.

The inventory is an ordinary Ansible inventory directory::

    hosts.yml                      hosts under role groups (bbb, greenlight, ...)
    group_vars/all/*.yml           fleet_regions, fleet_plans, fleet_tenants, fleet_sso, ...
    group_vars/GROUP[.yml|/*.yml]  group variables
    host_vars/HOST[.yml|/*.yml]    per-host variables (fleet_region, fleet_provider, ...)

Variables merge like Ansible's (all < groups < host), which is enough for the keys the
fleet model reads. Every problem found is reported, each with its file, key and line:
the file and line where the value was written, wherever it merged from. `fleet_` keys
are the fleet's record: one the model does not know is refused (a typo would otherwise
be ignored); other keys belong to the roles and are Ansible's business.

Reading is bounded (fleet/yamlio.py: regular files only, 8 MiB per file, alias
expansion counted) and so is templating: `{{ ... }}` in the values read here may only
substitute variables (with the filters lower, upper, trim, string, default, replace),
and renders to at most MAX_TEMPLATE_OUTPUT characters.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError

from meetfleet.fleet.errors import InventoryError, Problem
from meetfleet.fleet.files import InventoryFiles
from meetfleet.fleet.model import (
    FLEET_KEYS,
    HCLOUD_LOCATIONS,
    HOST_KEYS,
    MAX_CAPACITY,
    MAX_CPUS,
    NAME_RE,
    ROLE_GROUPS,
    BbbServer,
    CapacitySource,
    Fleet,
    Gateway,
    HcloudSource,
    Host,
    PlacementPolicy,
    Plan,
    Region,
    ServerState,
    Sso,
    StaticSource,
    Tenant,
)
from meetfleet.fleet.sso_checks import SsoProblem, greenlight_problem, realm_problems, unique_problems
from meetfleet.fleet.yamlio import YamlDoc, echo, label, resolve_link

INVENTORY_FILES = ("hosts.yml", "hosts.yaml")
KNOWN_FLEET_KEYS = (*FLEET_KEYS, *HOST_KEYS)
# Longest text a template in a value read here may render to.
MAX_TEMPLATE_OUTPUT = 16 * 1024
# Deepest nesting of groups in hosts.yml (all > region > role is three).
MAX_GROUP_DEPTH = 32
_NAME_RE = NAME_RE  # kept for importers


@dataclass
class Sourced:
    """A value and where it was written."""

    value: Any
    file: Path
    line: int | None

    def problem(self, key: str, message: str) -> Problem:
        return Problem(self.file, _at(key, self.line), message)


def _at(key: str, line: int | None) -> str:
    return f"{key} (line {line})" if line else key


@dataclass
class _Raw:
    """Everything read from the directory, before validation."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    host_groups: dict[str, set[str]] = field(default_factory=dict)
    group_depth: dict[str, int] = field(default_factory=dict)
    # vars per group and per host, each value with its source
    group_vars: dict[str, dict[str, Sourced]] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Sourced]] = field(default_factory=dict)
    # fleet_* keys: where each top-level key was defined (to refuse two definitions)
    fleet: dict[str, tuple[Sourced, YamlDoc]] = field(default_factory=dict)
    # names that exist but failed validation: their own problem is reported, so
    # references to them are not reported again
    invalid: set[str] = field(default_factory=set)
    # every variables file read (for the secrets check): its document
    docs: list[YamlDoc] = field(default_factory=list)
    # ("group_vars" | "host_vars", owner) -> its variables files, in Ansible's order (the writer's)
    var_files: dict[tuple[str, str], list[Path]] = field(default_factory=dict)
    files: InventoryFiles | None = None

    def doc(self, path: Path) -> YamlDoc | Problem:
        assert self.files is not None
        return self.files.doc(path)


@dataclass
class Inventory:
    """A validated inventory directory, read once: its fleet, and what the tools beside the
    fleet model need (each host's groups and variables, where each variable is written)."""

    directory: Path
    files: InventoryFiles
    fleet: Fleet
    warnings: list[Problem]
    _raw: _Raw

    @property
    def host_groups(self) -> dict[str, set[str]]:
        """Every host and the inventory groups it belongs to (its parents included)."""
        return self._raw.host_groups

    def host_variables(self, keys: Collection[str]) -> dict[str, dict[str, Any]]:
        """Each host's merged value of `keys` (templates rendered), for the Python tools that
        need more than the fleet model, e.g. pyinfra's connection data."""
        raw = self._raw
        problems_before = len(raw.problems)
        result: dict[str, dict[str, Any]] = {}
        for host in sorted(raw.host_groups):
            hv = _merged_host_vars(raw, host)
            _render_templates(raw, host, hv, lambda key: key in keys)
            result[host] = {key: hv[key].value for key in keys if key in hv}
        if len(raw.problems) > problems_before:
            raise InventoryError(raw.problems[problems_before:])
        return result

    def vars_files(self, kind: str, owner: str) -> list[Path]:
        """The files Ansible reads for group or host `owner` (kind group_vars or host_vars), in order."""
        return list(self._raw.var_files.get((kind, owner), ()))

    def defined_in(self, kind: str, owner: str, key: str) -> Path | None:
        """The variables file of `owner` that defines top-level `key`, if one does."""
        into = self._raw.group_vars if kind == "group_vars" else self._raw.host_vars
        sourced = into.get(owner, {}).get(key)
        if sourced is not None and sourced.file in self._raw.var_files.get((kind, owner), ()):
            return sourced.file
        return None


def open_inventory(directory: str | Path, files: InventoryFiles | None = None) -> Inventory:
    """Read, merge and validate the inventory in `directory` (through `files`, when given:
    a view with staged edits, or a cache already read). Raises InventoryError."""
    from meetfleet.fleet.secrets import plaintext_secret_warnings

    files = files or InventoryFiles(directory)
    raw = _read(directory, files)
    fleet = _build(raw)
    if raw.problems or fleet is None:
        raise InventoryError(raw.problems)
    warnings = plaintext_secret_warnings(raw.root, raw.docs, raw.group_vars, raw.host_vars)
    return Inventory(Path(directory), files, fleet, warnings, raw)


def load_inventory(directory: str | Path) -> Fleet:
    """Read, merge and validate the inventory in `directory`. Raises InventoryError."""
    return open_inventory(directory).fleet


def check_inventory(directory: str | Path) -> tuple[Fleet, list[Problem]]:
    """`load_inventory`, and the warnings that do not make the inventory invalid: secrets
    written in plain text where a vault reference belongs (fleet/secrets.py)."""
    inventory = open_inventory(directory)
    return inventory.fleet, inventory.warnings


def host_variables(directory: str | Path, keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """Each host's merged value of `keys` (templates rendered). Validates first."""
    return open_inventory(directory).host_variables(keys)


def host_groups(directory: str | Path) -> dict[str, set[str]]:
    """Every host and the inventory groups it belongs to (its parents included)."""
    return open_inventory(directory).host_groups


def _read(directory: str | Path, files: InventoryFiles) -> _Raw:
    root = Path(directory)
    if not root.is_dir():
        raise InventoryError([Problem(root, "(directory)", "is not an inventory directory")])
    raw = _Raw(root, files=files)
    _read_hosts_file(raw)
    _read_vars_dir(raw, raw.root / "group_vars", raw.group_vars)
    _read_vars_dir(raw, raw.root / "host_vars", raw.host_vars)
    for host in raw.host_vars:
        if host not in raw.host_groups:
            raw.problems.append(
                Problem(raw.root / "host_vars", label(host), "has host_vars but is not in any group of hosts.yml")
            )
    if raw.problems:  # do not cross-check a half-read inventory
        raise InventoryError(raw.problems)
    return raw


# --- reading -------------------------------------------------------------------------


def _read_hosts_file(raw: _Raw) -> None:
    assert raw.files is not None
    path = next((raw.root / n for n in INVENTORY_FILES if raw.files.exists(raw.root / n)), None)
    if path is None:
        raw.problems.append(Problem(raw.root / "hosts.yml", "(file)", "is missing"))
        return
    doc = raw.doc(path)
    if isinstance(doc, Problem):
        raw.problems.append(doc)
        return
    if not isinstance(doc.data, dict) or "all" not in doc.data:
        raw.problems.append(Problem(path, "all", "the inventory must start with an 'all' group"))
        return
    raw.docs.append(doc)
    _walk_group(raw, doc, "all", doc.data["all"], doc.line_of(doc.data, "all"), depth=0, parents=())


def _shape(value: Any) -> str:
    """What a YAML value is, for messages: 'a list', 'a string', ..."""
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "a mapping", list: "a list", str: "a string", int: "a number",
            float: "a number"}.get(type(value), f"a {type(value).__name__}")


def _mapping(raw: _Raw, doc: YamlDoc, key: str, value: Any, line: int | None, expected: str) -> dict:
    """`value` as a mapping ({} when empty); a Problem and {} when it is another shape."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raw.problems.append(Problem(doc.path, _at(key, line), f"must be {expected}, not {_shape(value)}"))
    return {}


def _walk_group(raw: _Raw, doc: YamlDoc, group: str, body: Any, line: int | None,
                depth: int, parents: tuple[str, ...]) -> None:
    if depth > MAX_GROUP_DEPTH:
        raw.problems.append(Problem(doc.path, _at(group, line), f"groups nest more than {MAX_GROUP_DEPTH} deep"))
        return
    if body is not None and not isinstance(body, dict):
        raw.problems.append(Problem(doc.path, _at(group, line),
                                    f"a group must be a mapping (hosts, children, vars), not {_shape(body)}"))
        return
    body = body or {}
    for key in sorted(set(body) - {"hosts", "children", "vars"}, key=str):
        raw.problems.append(
            Problem(doc.path, _at(f"{group}.{label(key)}", doc.line_of(body, key)),
                    "unknown key in a group (expected hosts, children or vars)")
        )
    raw.group_depth[group] = max(raw.group_depth.get(group, 0), depth)
    group_vars = _mapping(raw, doc, f"{group}.vars", body.get("vars"), doc.line_of(body, "vars"),
                          "a mapping of variables")
    for key, value in group_vars.items():
        sourced = Sourced(value, doc.path, doc.line_of(group_vars, key))
        if _known_key(raw, key, sourced, f"{group}.vars", owner=None):
            raw.group_vars.setdefault(group, {})[key] = sourced
    lineage = (*parents, group)
    hosts = _mapping(raw, doc, f"{group}.hosts", body.get("hosts"), doc.line_of(body, "hosts"),
                     "a mapping of host names (each with its variables or nothing)")
    for host, host_body, host_line in _named(raw, doc, hosts, f"{group}.hosts", "a host name"):
        raw.host_groups.setdefault(host, set()).update(lineage)
        variables = _mapping(raw, doc, f"{group}.hosts.{label(host)}", host_body, host_line,
                             "a mapping of the host's variables (or nothing)")
        for key, value in variables.items():
            sourced = Sourced(value, doc.path, doc.line_of(variables, key))
            if _known_key(raw, key, sourced, label(host), owner=None):
                raw.host_vars.setdefault(host, {})[key] = sourced
    children = _mapping(raw, doc, f"{group}.children", body.get("children"), doc.line_of(body, "children"),
                        "a mapping of group names")
    for child, child_body, child_line in _named(raw, doc, children, f"{group}.children", "a group name"):
        _walk_group(raw, doc, child, child_body, child_line, depth + 1, lineage)


def _named(raw: _Raw, doc: YamlDoc, mapping: dict, where: str, what: str) -> Iterator[tuple[str, Any, int | None]]:
    """(name, body, line) of each entry of a hosts or children mapping whose name is a
    non-empty string; a Problem for each other one."""
    for name, body in mapping.items():
        line = doc.line_of(mapping, name)
        if isinstance(name, str) and name:
            yield name, body, line
        else:
            raw.problems.append(Problem(doc.path, _at(f"{where}.{label(name)}", line),
                                        f"{what} must be a non-empty string"))


def _known_key(raw: _Raw, key: Any, sourced: Sourced, where: str, owner: str | None) -> bool:
    """Whether to keep variable `key`: refuse non-string names, `fleet_` keys the model
    does not know (with a did-you-mean), and fleet-wide keys outside group_vars/all.
    `owner` is the group_vars/host_vars owner, None for hosts.yml."""
    if not isinstance(key, str):
        raw.problems.append(sourced.problem(f"{where}.{label(key)}", "a variable name must be a string"))
        return False
    if not key.startswith("fleet_"):
        return True
    if key in FLEET_KEYS:
        if owner == "all":
            return True
        raw.problems.append(sourced.problem(key, "belongs in group_vars/all/ (a fleet-wide key, defined once)"))
        return False
    if key in HOST_KEYS:
        return True
    close = difflib.get_close_matches(key, KNOWN_FLEET_KEYS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    raw.problems.append(sourced.problem(
        f"{where}.{key}" if owner is None else key,
        f"is not a fleet key ({hint}fleet_ keys are the fleet's record, each one is listed in "
        "docs/architecture.md; a misspelt one would be ignored)"))
    return False


def _entries(raw: _Raw, directory: Path) -> list[Path]:
    """The directory's entries, and the files staged in it that the disk does not have yet."""
    staged = raw.files.staged_in(directory) if raw.files is not None else []
    try:
        listed = list(directory.iterdir()) if os.path.lexists(directory) or not staged else []
    except OSError as exc:
        raw.problems.append(Problem(directory, "(directory)", f"cannot be read: {exc.strerror or exc}"))
        return []
    return sorted({*listed, *staged})


def _is_dir(raw: _Raw, entry: Path) -> bool | None:
    """Whether `entry` is a directory (following a symlink); None, with a Problem, for a
    symlink loop or a dangling one."""
    if raw.files is not None and entry in raw.files.staged:
        return False
    try:
        info = entry.lstat()
    except OSError as exc:
        raw.problems.append(Problem(entry, "(file)", f"cannot be read: {exc.strerror or exc}"))
        return None
    if stat.S_ISLNK(info.st_mode):
        target = resolve_link(entry)
        if isinstance(target, Problem):
            raw.problems.append(target)
            return None
        return target.is_dir()
    return stat.S_ISDIR(info.st_mode)


def _var_files(raw: _Raw, directory: Path) -> Iterator[tuple[str, Path]]:
    """(owner, file) for NAME.yml, NAME.yaml, NAME and NAME/*.yml in group_vars/host_vars.

    Whatever Ansible would read is read, and refused (by read_yaml) when it is not a
    regular file: a FIFO or a device is reported, never silently skipped nor read."""
    if not _is_dir_quiet(directory) and not (raw.files and any(p.is_relative_to(directory)
                                                                  for p in raw.files.staged)):
        if os.path.lexists(directory):
            raw.problems.append(Problem(directory, "(directory)", "must be a directory of variables files"))
        return
    for entry in _entries(raw, directory):
        is_dir = _is_dir(raw, entry)
        if is_dir is None:
            continue
        if is_dir:
            for sub in _entries(raw, entry):
                if sub.suffix in (".yml", ".yaml", "") and _is_dir(raw, sub) is False:
                    yield entry.name, sub
        elif entry.suffix in (".yml", ".yaml"):
            yield entry.stem, entry
        elif entry.suffix == "":
            yield entry.name, entry


def _is_dir_quiet(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _read_vars_dir(raw: _Raw, directory: Path, into: dict[str, dict[str, Sourced]]) -> None:
    for owner, path in _var_files(raw, directory):
        raw.var_files.setdefault((directory.name, owner), []).append(path)
        doc = raw.doc(path)
        if isinstance(doc, Problem):
            raw.problems.append(doc)
            continue
        raw.docs.append(doc)
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            raw.problems.append(Problem(path, "(file)", f"must be a mapping of variables, not {_shape(doc.data)}"))
            continue
        for key, value in doc.data.items():
            sourced = Sourced(value, path, doc.line_of(doc.data, key))
            if not _known_key(raw, key, sourced, "(file)", owner=owner):
                continue
            if key in FLEET_KEYS:
                if key in raw.fleet:
                    first = raw.fleet[key][0]
                    raw.problems.append(
                        sourced.problem(key, f"is defined twice (also in {first.file}); "
                                             "Ansible would silently keep one")
                    )
                    continue
                raw.fleet[key] = (sourced, doc)
            into.setdefault(owner, {})[key] = sourced


# --- building and cross-checking ------------------------------------------------------


def validation_message(err: Any) -> str:
    """One of pydantic's errors as the inventory's messages say it (what is wrong, the value
    echoed short; the key is the caller's to name)."""
    msg = err["msg"]
    if err["type"] == "missing":
        return "is required but missing"
    if err["type"] == "extra_forbidden":
        return "is not a known key (typo?)"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    # a mapping is not echoed: the problem is about it as a whole (its keys are reported
    # one by one), and it may hold what must not be printed (fleet_sso.smtp.password)
    if "input" in err and not isinstance(err["input"], dict):
        msg = f"{msg} (got {echo(err['input'])})"
    return msg


def _validate(raw: _Raw, model: type[BaseModel], data: dict[str, Any],
              origin: Sourced, key_prefix: str, doc: YamlDoc | None = None,
              node: Any = None, fields: dict[str, tuple[str, Sourced]] | None = None) -> Any:
    """Validate one item; map pydantic's errors onto inventory keys and lines.

    `fields` maps a model field to the inventory key it came from and where that key was
    written (host items merge their fields from several files); otherwise the item's
    fields are keys of `node` in `doc`, under `key_prefix`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [label(part) if isinstance(part, str) else str(part) for part in err["loc"]]
            field_name = loc[0] if loc else ""
            if fields and field_name in fields:
                inventory_key, where = fields[field_name]
                key = ".".join([key_prefix, inventory_key, *loc[1:]])
                raw.problems.append(where.problem(key, validation_message(err)))
                continue
            key = ".".join([key_prefix, *loc]) if loc else key_prefix
            line = _deepest_line(doc, node, err["loc"]) if doc is not None else None
            raw.problems.append(Problem(origin.file, _at(key, line or origin.line), validation_message(err)))
        return None


def _deepest_line(doc: YamlDoc, node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the innermost key of `loc` written in `node` (fleet_sso.smtp.port: the
    line of port, not of smtp), or None."""
    line = None
    for part in loc:
        if isinstance(part, str) and isinstance(node, dict) and part in node:
            line = doc.line_of(node, part) or line
            node = node[part]
        elif isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
        else:
            break
    return line


def _fleet_map(raw: _Raw, key: str) -> tuple[dict[str, Any], Sourced | None, YamlDoc | None]:
    entry = raw.fleet.get(key)
    if entry is None:
        return {}, None, None
    sourced, doc = entry
    if sourced.value is None:
        return {}, sourced, doc
    if not isinstance(sourced.value, dict):
        raw.problems.append(sourced.problem(key, f"must be a mapping of names to settings, "
                                                 f"not {_shape(sourced.value)}"))
        return {}, sourced, doc
    return sourced.value, sourced, doc


def _named_items(raw: _Raw, key: str, model: type[BaseModel]) -> dict[str, Any]:
    mapping, sourced, doc = _fleet_map(raw, key)
    if sourced is None:
        if key != "fleet_tenants":
            raw.problems.append(Problem(raw.root / "group_vars/all", key, "is required but missing"))
        return {}
    items: dict[str, Any] = {}
    for name, body in mapping.items():
        line = doc.line_of(mapping, name) if doc else None
        item_origin = Sourced(body, sourced.file, line)
        if not isinstance(name, str):
            raw.problems.append(item_origin.problem(f"{key}.{label(name)}", "a name must be a string"))
            continue
        if body is not None and not isinstance(body, dict):
            raw.problems.append(item_origin.problem(f"{key}.{label(name)}", f"must be a mapping, not {_shape(body)}"))
            continue
        data = {"name": name, **dict(body or {})}
        item = _validate(raw, model, data, item_origin, f"{key}.{label(name)}", doc, body)
        if item is None:
            raw.invalid.add(name)
        else:
            items[name] = item
    return items


def _merged_host_vars(raw: _Raw, host: str) -> dict[str, Sourced]:
    groups = sorted(raw.host_groups.get(host, set()), key=lambda g: (raw.group_depth[g], g))
    merged: dict[str, Sourced] = {}
    for group in groups:
        merged.update(raw.group_vars.get(group, {}))
    merged.update(raw.host_vars.get(host, {}))
    return merged


def _bounded_replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    """Jinja's replace, refusing a result longer than MAX_TEMPLATE_OUTPUT before building it."""
    text, old, new = str(value), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if count is not None:
        times = min(times, max(int(count), 0))
    if len(text) + times * (len(new) - len(old)) > MAX_TEMPLATE_OUTPUT:
        raise TemplateError(f"replace would make more than {MAX_TEMPLATE_OUTPUT:,} characters")
    return text.replace(old, new, -1 if count is None else max(int(count), 0))


_JINJA = SandboxedEnvironment(undefined=StrictUndefined)
_JINJA.filters["replace"] = _bounded_replace
_SIMPLE_FILTERS = frozenset({"lower", "upper", "trim", "string", "default", "d", "replace"})
_SIMPLE_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const,
                 nodes.Getattr, nodes.Getitem, nodes.Concat, nodes.Filter)


def _not_simple(tree: nodes.Node) -> str | None:
    """What in a template goes beyond variable substitution, or None."""
    for node in [tree, *tree.find_all(nodes.Node)]:
        if not isinstance(node, _SIMPLE_NODES):
            return f"{type(node).__name__.lower()} ({{% ... %}} blocks, calls and operators are not read here)"
        if isinstance(node, nodes.Filter) and node.name not in _SIMPLE_FILTERS:
            return f"the filter {node.name!r} (only {', '.join(sorted(_SIMPLE_FILTERS))} are read here)"
    return None


@lru_cache(maxsize=256)
def _compile(source: str) -> Any:
    """The compiled template, or the text of why it is refused."""
    try:
        tree = _JINJA.parse(source)
    except TemplateError as exc:
        return f"template error: {echo(str(exc))[1:-1]}"
    why = _not_simple(tree)
    if why is not None:
        return f"templates here may only substitute variables ({{{{ name }}}}), this one has {why}"
    return _JINJA.from_string(tree)


def _render(source: str, context: dict[str, Any]) -> tuple[str | None, str | None]:
    """(rendered text, None) or (None, what is wrong), never more than MAX_TEMPLATE_OUTPUT."""
    template = _compile(source)
    if isinstance(template, str):
        return None, template
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_TEMPLATE_OUTPUT:
                return None, f"template renders to more than {MAX_TEMPLATE_OUTPUT:,} characters"
            out.append(chunk)
    except Exception as exc:  # a user's template: any failure is their input's
        return None, f"template error: {echo(str(exc))[1:-1]}"
    return "".join(out), None


def _templated(value: Any) -> bool:
    """Whether Ansible would template `value` (a string with {{ }}, {% %} or {# #})."""
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def _render_templates(raw: _Raw, name: str, hv: dict[str, Sourced], wanted: Callable[[str], bool]) -> None:
    """Render `{{ ... }}` in the wanted keys' values the way Ansible would, in place.

    The context is inventory_hostname, inventory_dir and the host's untemplated
    variables: enough for per-host URLs and paths, and never evaluates vault lookups.
    """
    todo = [key for key, sourced in hv.items() if wanted(key) and _templated(sourced.value)]
    if not todo:
        return
    context = {"inventory_hostname": name, "inventory_dir": str(raw.root.resolve())}
    context.update({k: s.value for k, s in hv.items() if not _templated(s.value)})
    for key in todo:
        sourced = hv[key]
        rendered, error = _render(sourced.value, context)
        if error is not None:
            raw.problems.append(sourced.problem(f"{name}.{key}", error))
            continue
        hv[key] = Sourced(rendered, sourced.file, sourced.line)


def _host_key(key: str) -> bool:
    return key.startswith("fleet_") and key not in FLEET_KEYS


def _count(raw: _Raw, name: str, key: str, hv: dict[str, Sourced], top: int) -> int | None:
    """A positive whole number at most `top` from host variable `key`, or None (reported)."""
    value = hv[key].value
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= top:
        return value
    raw.problems.append(hv[key].problem(
        f"{name}.{key}", f"must be a whole number from 1 to {top:,}, written without quotes (got {echo(value)})"))
    return None


def _build_host(raw: _Raw, name: str) -> Host | None:
    hv = _merged_host_vars(raw, name)
    _render_templates(raw, name, hv, _host_key)
    here = Sourced(None, raw.root / "hosts.yml", None)

    def value(key: str, default: Any = None) -> Any:
        return hv[key].value if key in hv else default

    def origin(key: str) -> Sourced:
        return hv.get(key, here)

    ok = True
    if len(name) > 253 or not NAME_RE.match(name):
        raw.problems.append(here.problem(label(name), "host name must be a lowercase DNS name "
                                                           "(at most 253 characters, no spaces or control characters)"))
        return None
    roles = frozenset(g for g in raw.host_groups[name] if g in ROLE_GROUPS)
    region = value("fleet_region")
    if region is None:
        raw.problems.append(Problem(raw.root / "host_vars", f"{name}.fleet_region",
                                    "is required but missing (which region is this host in?)"))
        ok = False
    if "fleet_lab" in hv and not isinstance(value("fleet_lab"), bool):
        raw.problems.append(origin("fleet_lab").problem(
            f"{name}.fleet_lab", f"must be true or false, unquoted (got {echo(value('fleet_lab'))})"))
        ok = False
    port = value("ansible_port")
    if port is not None and not _templated(port) and not (
            isinstance(port, int) and not isinstance(port, bool) and 0 < port <= 65535):
        raw.problems.append(origin("ansible_port").problem(
            f"{name}.ansible_port", f"must be a port number from 1 to 65535, unquoted (got {echo(port)})"))
        ok = False

    provider = value("fleet_provider")
    source: HcloudSource | StaticSource | None = None
    if provider == "hcloud":
        location = value("fleet_hcloud_location")
        if not isinstance(location, str) or location not in HCLOUD_LOCATIONS:
            raw.problems.append(origin("fleet_hcloud_location").problem(
                f"{name}.fleet_hcloud_location",
                f"{echo(location)} is not a Hetzner Cloud location (known: "
                f"{', '.join(sorted(HCLOUD_LOCATIONS))}); Hetzner has no Canadian location, "
                "make such a host fleet_provider: static",
            ))
            ok = False
        else:
            data = {"location": location}
            fields = {"location": ("fleet_hcloud_location", origin("fleet_hcloud_location"))}
            for key in ("server_type", "image"):
                if f"fleet_hcloud_{key}" in hv:
                    data[key] = value(f"fleet_hcloud_{key}")
                    fields[key] = (f"fleet_hcloud_{key}", origin(f"fleet_hcloud_{key}"))
            source = _validate(raw, HcloudSource, data, origin("fleet_hcloud_location"), name, fields=fields)
    elif provider == "static":
        source = StaticSource()
    else:
        raw.problems.append(origin("fleet_provider").problem(
            f"{name}.fleet_provider",
            f"must be 'hcloud' or 'static' (got {echo(provider)})",
        ))
        ok = False

    bbb = None
    if "bbb" in roles:
        bbb = _build_bbb(raw, name, hv, origin)
        ok = ok and bbb is not None
    if not ok or source is None:
        return None
    return _validate(raw, Host, {
        "name": name, "region": region, "roles": roles, "address": value("ansible_host"),
        "source": source, "bbb": bbb, "lab": value("fleet_lab", False),
    }, here, name, fields={"region": ("fleet_region", origin("fleet_region")),
                           "address": ("ansible_host", origin("ansible_host"))})


def _build_bbb(raw: _Raw, name: str, hv: dict[str, Sourced], origin: Any) -> BbbServer | None:
    if "fleet_bbb_capacity" in hv and hv["fleet_bbb_capacity"].value is not None:
        capacity = _count(raw, name, "fleet_bbb_capacity", hv, MAX_CAPACITY)
        capacity_key = "fleet_bbb_capacity"
    elif "fleet_bbb_cpus" in hv and hv["fleet_bbb_cpus"].value is not None:
        cpus = _count(raw, name, "fleet_bbb_cpus", hv, MAX_CPUS)
        capacity = None if cpus is None else BbbServer.capacity_from_cpus(cpus)
        capacity_key = "fleet_bbb_cpus"
    else:
        raw.problems.append(Problem(
            raw.root / "host_vars", f"{name}.fleet_bbb_capacity",
            "is missing: a BBB server needs a capacity in load units (or fleet_bbb_cpus, "
            "a positive CPU count, to derive one)",
        ))
        return None
    if capacity is None:
        return None
    state = hv["fleet_bbb_state"].value if "fleet_bbb_state" in hv else "active"
    if not isinstance(state, str) or state not in {s.value for s in ServerState}:
        raw.problems.append(origin("fleet_bbb_state").problem(
            f"{name}.fleet_bbb_state",
            f"unknown state {echo(state)} (one of: {', '.join(s.value for s in ServerState)})",
        ))
        return None
    data = {
        "capacity": capacity,
        "state": state,
        "api_url": hv["fleet_bbb_api_url"].value if "fleet_bbb_api_url" in hv
        else f"https://{name}/bigbluebutton/api",
    }
    fields = {"capacity": (capacity_key, origin(capacity_key)),
              "state": ("fleet_bbb_state", origin("fleet_bbb_state")),
              "api_url": ("fleet_bbb_api_url", origin("fleet_bbb_api_url"))}
    if "fleet_bbb_checksum_algorithm" in hv:
        data["checksum_algorithm"] = hv["fleet_bbb_checksum_algorithm"].value
        fields["checksum_algorithm"] = ("fleet_bbb_checksum_algorithm", origin("fleet_bbb_checksum_algorithm"))
    return _validate(raw, BbbServer, data, origin(capacity_key), name, fields=fields)


def _build(raw: _Raw) -> Fleet | None:
    regions: dict[str, Region] = _named_items(raw, "fleet_regions", Region)
    plans: dict[str, Plan] = _named_items(raw, "fleet_plans", Plan)
    tenants: dict[str, Tenant] = _named_items(raw, "fleet_tenants", Tenant)
    hosts: dict[str, Host] = {}
    for name in sorted(raw.host_groups):
        host = _build_host(raw, name)
        if host is None:
            raw.invalid.add(name)
        else:
            hosts[name] = host

    for host in hosts.values():
        if host.region not in regions and host.region not in raw.invalid:
            where = _merged_host_vars(raw, host.name)["fleet_region"]
            raw.problems.append(where.problem(
                f"{host.name}.fleet_region",
                f"unknown region {host.region!r} (fleet_regions has: {', '.join(sorted(regions))})",
            ))

    claimed: dict[str, str] = {}  # origin server name -> the tenant that claims it
    for tenant in tenants.values():
        for key, message in _tenant_problems(tenant, regions, plans, hosts):
            if getattr(tenant, key) in raw.invalid:
                continue
            raw.problems.append(_tenant_key(raw, tenant.name, key).problem(f"fleet_tenants.{tenant.name}.{key}",
                                                                           message))
        for server_name in tenant.origin_server_names:
            other = claimed.setdefault(server_name.lower(), tenant.name)
            if other != tenant.name:
                raw.problems.append(_tenant_key(raw, tenant.name, "origin_server_names").problem(
                    f"fleet_tenants.{tenant.name}.origin_server_names",
                    f"{server_name!r} is claimed by tenants {other!r} and {tenant.name!r}: a meeting from "
                    "that front end can belong to one tenant only"))
    raw.problems.extend(_sso_problem(raw, p) for p in unique_problems(tenants.values()))
    sso = _fleet_setting(raw, "fleet_sso", Sso)
    if sso is not None:
        nextcloud_hosts = [host.name for host in hosts.values() if "nextcloud" in host.roles]
        raw.problems.extend(_sso_problem(raw, p) for p in realm_problems(sso, tenants.values(), nextcloud_hosts))

    capacity_source = _fleet_setting(raw, "fleet_capacity_source", CapacitySource)
    gateway = _fleet_setting(raw, "fleet_gateway", Gateway)
    policy = _fleet_policy(raw)
    if raw.problems:
        return None
    return Fleet(regions=regions, plans=plans, hosts=hosts, tenants=tenants,
                 capacity_source=capacity_source, placement_policy=policy, gateway=gateway, sso=sso)


def _tenant_key(raw: _Raw, tenant: str, key: str) -> Sourced:
    """Where tenant `tenant`'s `key` is written (the tenant's own line when it is not)."""
    entry = raw.fleet.get("fleet_tenants")
    if entry is None or not isinstance(entry[0].value, dict):
        return Sourced(None, raw.root, None)
    sourced, doc = entry
    body = sourced.value.get(tenant)
    line = doc.line_of(sourced.value, tenant)
    at = doc.line_of(body, key) if isinstance(body, dict) else None
    return Sourced(None, sourced.file, at or line)


def _sso_problem(raw: _Raw, problem: SsoProblem) -> Problem:
    """`problem` at the file and line of its key: a tenant's, or fleet_sso's."""
    if problem.tenant is not None:
        where = _tenant_key(raw, problem.tenant, problem.key)
        return where.problem(f"fleet_tenants.{problem.tenant}.{problem.key}", problem.message)
    sourced, doc = raw.fleet["fleet_sso"]
    line = doc.line_of(sourced.value, problem.key) if isinstance(sourced.value, dict) else None
    return Problem(sourced.file, _at(f"fleet_sso.{problem.key}", line or sourced.line), problem.message)


def _fleet_setting(raw: _Raw, key: str, model: type[BaseModel]) -> Any:
    """A fleet-wide mapping validated as `model`; None when the key is absent."""
    entry = raw.fleet.get(key)
    if entry is None or entry[0].value is None:
        return None
    sourced, doc = entry
    if not isinstance(sourced.value, dict):
        raw.problems.append(sourced.problem(key, f"must be a mapping, not {_shape(sourced.value)}"))
        return None
    return _validate(raw, model, dict(sourced.value), sourced, key, doc, sourced.value)


def _fleet_policy(raw: _Raw) -> PlacementPolicy:
    entry = raw.fleet.get("fleet_placement_policy")
    if entry is None or entry[0].value is None:
        return PlacementPolicy.MOST_SPARE
    value = entry[0].value
    if not isinstance(value, str) or value not in {p.value for p in PlacementPolicy}:
        raw.problems.append(entry[0].problem("fleet_placement_policy", f"unknown policy {echo(value)} (one of: "
                                             f"{', '.join(p.value for p in PlacementPolicy)})"))
        return PlacementPolicy.MOST_SPARE
    return PlacementPolicy(value)


def _tenant_problems(tenant: Tenant, regions: dict[str, Region], plans: dict[str, Plan],
                     hosts: dict[str, Host]) -> Iterator[tuple[str, str]]:
    if tenant.plan not in plans:
        yield "plan", f"unknown plan {tenant.plan!r} (fleet_plans has: {', '.join(sorted(plans))})"
    if tenant.region not in regions:
        yield "region", f"unknown region {tenant.region!r} (fleet_regions has: {', '.join(sorted(regions))})"
    if tenant.bbb_server is not None:
        server = hosts.get(tenant.bbb_server)
        if server is None or server.bbb is None:
            yield "bbb_server", f"{tenant.bbb_server!r} is not a BBB server of this inventory"
        elif server.region != tenant.region:
            yield "bbb_server", (f"{tenant.bbb_server!r} is in region {server.region!r}, "
                                 f"the tenant in {tenant.region!r}")
        elif server.bbb.state == ServerState.RETIRED:
            yield "bbb_server", f"{tenant.bbb_server!r} is retired and can hold no tenant"
    greenlight_hosts = {name for name, host in hosts.items() if "greenlight" in host.roles}
    if (message := greenlight_problem(tenant, greenlight_hosts)) is not None:
        yield "greenlight", message
