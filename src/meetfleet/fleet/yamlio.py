"""Reading inventory YAML fast, with line numbers, without silently dropped keys, and bounded.

libyaml (PyYAML's C parser) does the parsing: a fleet of thousands of tenants loads in
a fraction of a second, where a pure-Python round-trip parser takes seconds. Mappings
come back as `LineDict`, which remembers the line of each key for error messages.
Writes, which must keep comments, use ruamel.yaml instead (fleet/writer.py).

What is read is bounded, whatever the files hold: only regular files (a FIFO would block
the reader forever, a device such as /dev/zero would fill memory; a symlink is followed
to a regular file only, a symlink loop is refused), at most `MAX_FILE_BYTES` per file, and at
most `MAX_EXPANDED_NODES` YAML nodes once aliases are expanded (a "billion laughs"
document is a few lines of anchors and aliases that expand to billions of nodes).
"""

from __future__ import annotations

import errno
import os
import re
import reprlib
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from meetfleet.fleet.errors import Problem

VAULT_HEADER = "$ANSIBLE_VAULT;"

# Largest inventory file read (bytes). A 5,000-tenant tenants.yml is about 0.5 MiB.
MAX_FILE_BYTES = 8 * 1024 * 1024
# Most YAML nodes of one file with every alias expanded (each use of an alias counts its
# whole value again). Only documents with anchors can go past their own size.
MAX_EXPANDED_NODES = 1_000_000
# Longest echo of a value in a message: an inventory value is never printed whole.
MAX_ECHO = 80

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_repr = reprlib.Repr()
_repr.maxstring = MAX_ECHO
_repr.maxother = MAX_ECHO
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdict = 4
_repr.maxlevel = 2


def echo(value: Any) -> str:
    """A short repr of `value` for a message: at most MAX_ECHO characters, never the whole
    of a huge value (reprlib stops early, so building it costs little)."""
    text = _repr.repr(value)
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 3] + "..."


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def label(value: Any) -> str:
    """A name or key as a message shows it: itself when it is short printable text,
    else its short repr (a newline in a name must not start a line of the message)."""
    if isinstance(value, str) and len(value) <= MAX_ECHO and not _UNPRINTABLE.search(value):
        return value
    return echo(value)


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


class _TooBig(yaml.YAMLError):
    def __init__(self, message: str, mark: Any = None):
        super().__init__(message)
        self.message = message
        self.mark = mark


def _expanded_size(root: yaml.Node, limit: int) -> None:
    """Raise _TooBig when the node graph, aliases expanded, has more than `limit` nodes
    or is recursive (an alias inside its own anchor). Iterative: no recursion limit."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            continue
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value))
        if finished:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(child)] for child in children)
            if total > limit:
                raise _TooBig(f"expands to more than {limit:,} values through aliases "
                              "(an alias bomb?)", node.start_mark)
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise _TooBig("an alias refers to a value that contains it (recursive alias)", node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


class _InventoryLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loading that refuses duplicate keys ("last one wins" hides mistakes) and
    documents whose aliases expand past MAX_EXPANDED_NODES."""

    check_aliases = False

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if self.check_aliases:
            _expanded_size(node, MAX_EXPANDED_NODES)
        return self.construct_document(node)

    def construct_line_mapping(self, node: yaml.MappingNode) -> Any:
        mapping = LineDict()
        yield mapping
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "found a key that is a list or mapping", key_node.start_mark) from None
            if key in mapping:
                raise ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {echo(key)}", key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.lines[key] = key_node.start_mark.line + 1


def _construct_tagged(loader: _InventoryLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return TaggedValue(loader.construct_scalar(node), "!" + tag_suffix)
    raise ConstructorError(None, None, f"tag !{echo(tag_suffix)[1:-1]} on a non-scalar value", node.start_mark)


def _with_mark(construct: Any) -> Any:
    """A scalar constructor whose ValueError (2024-13-45 as a date, an int of more digits
    than Python converts) becomes a YAML error at the value's line."""

    def constructor(loader: _InventoryLoader, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(None, None, f"cannot read {echo(node.value)}: {echo(str(exc))[1:-1]}",
                                   node.start_mark) from None

    return constructor


for _tag in ("int", "float", "timestamp"):
    _InventoryLoader.add_constructor(f"tag:yaml.org,2002:{_tag}",
                                     _with_mark(getattr(yaml.SafeLoader, f"construct_yaml_{_tag}")))
_InventoryLoader.add_constructor("tag:yaml.org,2002:map", _InventoryLoader.construct_line_mapping)
_InventoryLoader.add_multi_constructor("!", _construct_tagged)


@dataclass(frozen=True)
class YamlDoc:
    path: Path
    data: Any  # LineDict for mappings; None for empty or vault-encrypted files
    encrypted: bool = False
    mode: int = 0o644  # permission bits of the file read

    @staticmethod
    def line_of(mapping: Any, key: str) -> int | None:
        """1-based line of `key` in `mapping` (a mapping of this document), when known."""
        if isinstance(mapping, LineDict):
            return mapping.lines.get(key)
        return None


_KINDS = {stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a character device",
          stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket", stat.S_ISDIR: "a directory"}


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")


def resolve_link(path: Path) -> Problem | Path:
    """`path` with symlinks resolved, or a Problem when it is a symlink loop or dangling.

    A symlink may lead outside the inventory (fleet/writer.py validates an edit through
    an overlay of symlinks to the real files, and keeps a symlinked file a symlink); what
    it leads to is read only when it is a regular file (read_text checks)."""
    try:
        return path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13: "Symlink loop"
        return Problem(path, "(file)", "is a symlink loop")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(path, "(file)", "is a symlink loop")
        return Problem(path, "(file)", f"cannot be read: {exc.strerror or exc}")


def read_text(path: Path) -> tuple[str, int] | Problem:
    """The text and permission bits of a regular file of at most MAX_FILE_BYTES.

    Opened non-blocking and checked with fstat before reading: a FIFO or a device is
    refused without a byte read (reading a FIFO blocks, /dev/zero never ends)."""
    target = resolve_link(path)
    if isinstance(target, Problem):
        return target
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        return Problem(path, "(file)", f"cannot be read: {exc.strerror or exc}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Problem(path, "(file)", f"is {_kind(info.st_mode)}; only regular files are read")
        if info.st_size > MAX_FILE_BYTES:
            return Problem(path, "(file)", f"is {info.st_size:,} bytes; inventory files are read up to "
                                           f"{MAX_FILE_BYTES:,} bytes (8 MiB)")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            return Problem(path, "(file)", f"is over {MAX_FILE_BYTES:,} bytes (it grew while read); "
                                           "inventory files are read up to 8 MiB")
    except OSError as exc:
        return Problem(path, "(file)", f"cannot be read: {exc.strerror or exc}")
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8"), stat.S_IMODE(info.st_mode)
    except UnicodeDecodeError as exc:
        return Problem(path, "(file)", f"is not UTF-8 text (byte {exc.start})")


def read_yaml(path: Path) -> YamlDoc | Problem:
    """Parse one file; a syntax error becomes a Problem naming file, line and column."""
    read = read_text(path)
    if isinstance(read, Problem):
        return read
    return document(path, *read)


def document(path: Path, text: str, mode: int = 0o644) -> YamlDoc | Problem:
    """`text` of `path` as a document: parsed, or marked encrypted when it is a vault file."""
    if text.lstrip().startswith(VAULT_HEADER):
        # Vault-encrypted files hold secrets; the loader does not decrypt them
        # (fleet/secrets.py does, for the one variable asked for).
        return YamlDoc(path, None, encrypted=True, mode=mode)
    return parse_yaml(path, text, mode)


def parse_yaml(path: Path, text: str, mode: int = 0o644) -> YamlDoc | Problem:
    loader = _InventoryLoader(text)
    loader.check_aliases = "&" in text  # no anchor, no alias: nothing expands
    try:
        data = loader.get_single_data()
    except _TooBig as exc:
        where = f"line {exc.mark.line + 1}" if exc.mark else "(file)"
        return Problem(path, where, f"YAML refused: {exc.message}")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown place)"
        what = exc.problem or exc.context or "invalid YAML"
        return Problem(path, where, f"YAML error: {what}")
    except yaml.YAMLError as exc:
        return Problem(path, "(file)", f"YAML error: {echo(str(exc))}")
    except RecursionError:
        return Problem(path, "(file)", "YAML refused: values nest too deeply")
    except (ValueError, TypeError, OverflowError) as exc:
        # a scalar YAML resolves but cannot build: 2024-13-45 as a date, a 5,000-digit int
        return Problem(path, "(file)", f"YAML error: a value cannot be read ({echo(str(exc))})")
    finally:
        loader.dispose()
    return YamlDoc(path, data, mode=mode)
