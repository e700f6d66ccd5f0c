"""Reading inventory YAML with line numbers and without silently dropped keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from meetfleet.fleet.errors import Problem

VAULT_HEADER = "$ANSIBLE_VAULT;"


@dataclass(frozen=True)
class YamlDoc:
    path: Path
    data: Any  # CommentedMap for mappings; None for empty or vault-encrypted files
    encrypted: bool = False

    def line_of(self, mapping: Any, key: str) -> int | None:
        """1-based line of `key` in `mapping` (a node of this document), when known."""
        if isinstance(mapping, CommentedMap):
            try:
                return mapping.lc.key(key)[0] + 1
            except (KeyError, TypeError):
                return None
        return None


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False  # a duplicate name is an error, never "last one wins"
    return yaml


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
        data = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown place)"
        what = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(exc):
            what = f"duplicate key {_duplicate_key_name(exc)}".rstrip()
        return Problem(path, where, f"YAML error: {what}")
    except YAMLError as exc:
        return Problem(path, "(file)", f"YAML error: {exc}")
    return YamlDoc(path, data)


def _duplicate_key_name(exc: MarkedYAMLError) -> str:
    problem = exc.problem or ""
    # ruamel says: found duplicate key "NAME" with value ...
    if '"' in problem:
        return '"' + problem.split('"')[1] + '"'
    return ""
