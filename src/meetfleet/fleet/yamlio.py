"""Reading inventory YAML fast, with line numbers, and without silently dropped keys.

libyaml (PyYAML's C parser) does the parsing: a fleet of thousands of tenants loads in
a fraction of a second, where a pure-Python round-trip parser takes seconds. Mappings
come back as `LineDict`, which remembers the line of each key for error messages.
Writes, which must keep comments, use ruamel.yaml instead (fleet/writer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from meetfleet.fleet.errors import Problem

VAULT_HEADER = "$ANSIBLE_VAULT;"

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict):
    """A mapping that knows the 1-based line of each of its keys."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}


class TaggedValue(str):
    """An Ansible-tagged scalar (`!vault`, `!unsafe`): kept as text, never interpreted."""

    __slots__ = ("tag",)

    def __new__(cls, value: str, tag: str) -> TaggedValue:
        obj = super().__new__(cls, value)
        obj.tag = tag
        return obj


class _InventoryLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loading that refuses duplicate keys ("last one wins" hides mistakes)."""

    def construct_line_mapping(self, node: yaml.MappingNode) -> Any:
        mapping = LineDict()
        yield mapping
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in mapping:
                raise ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f'found duplicate key "{key}"', key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.lines[key] = key_node.start_mark.line + 1


def _construct_tagged(loader: _InventoryLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return TaggedValue(loader.construct_scalar(node), "!" + tag_suffix)
    raise ConstructorError(None, None, f"tag !{tag_suffix} on a non-scalar value", node.start_mark)


_InventoryLoader.add_constructor("tag:yaml.org,2002:map", _InventoryLoader.construct_line_mapping)
_InventoryLoader.add_multi_constructor("!", _construct_tagged)


@dataclass(frozen=True)
class YamlDoc:
    path: Path
    data: Any  # LineDict for mappings; None for empty or vault-encrypted files
    encrypted: bool = False

    @staticmethod
    def line_of(mapping: Any, key: str) -> int | None:
        """1-based line of `key` in `mapping` (a mapping of this document), when known."""
        if isinstance(mapping, LineDict):
            return mapping.lines.get(key)
        return None


def read_yaml(path: Path) -> YamlDoc | Problem:
    """Parse one file; a syntax error becomes a Problem naming file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(path, "(file)", f"cannot be read: {exc}")
    if text.lstrip().startswith(VAULT_HEADER):
        # Vault-encrypted files hold secrets; the Python side never needs them.
        return YamlDoc(path, None, encrypted=True)
    try:
        data = yaml.load(text, Loader=_InventoryLoader)  # noqa: S506 - a safe loader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown place)"
        what = exc.problem or exc.context or "invalid YAML"
        return Problem(path, where, f"YAML error: {what}")
    except yaml.YAMLError as exc:
        return Problem(path, "(file)", f"YAML error: {exc}")
    return YamlDoc(path, data)
