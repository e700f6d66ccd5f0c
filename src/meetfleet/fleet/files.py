"""An inventory directory's files, each read from disk at most once.

The loader, the writer's edit session and pyinfra's inventory all go through one
`InventoryFiles`: a command that loads the inventory, decides, validates an edit and
writes it reads every file once. Staged edits (`with_text`) are seen in place of the
file they replace (or as a new file), so an edit is validated by parsing only its own
new text, with nothing written and no copy of any other file made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from meetfleet.fleet.errors import Problem
from meetfleet.fleet.yamlio import YamlDoc, document, read_text


@dataclass
class _Cache:
    """What was read from disk, shared by every view of one directory."""

    texts: dict[Path, tuple[str, int] | Problem] = field(default_factory=dict)
    docs: dict[Path, YamlDoc | Problem] = field(default_factory=dict)
    disk_reads: int = 0


class InventoryFiles:
    """The files of inventory `root`: read lazily, once each; `staged` texts replace them."""

    def __init__(self, root: str | Path, *, _cache: _Cache | None = None,
                 _staged: dict[Path, str] | None = None) -> None:
        self.root = Path(root)
        self._cache = _cache or _Cache()
        self.staged: dict[Path, str] = dict(_staged or {})

    @property
    def disk_reads(self) -> int:
        """How many files were read from disk through this directory's views (for tests)."""
        return self._cache.disk_reads

    def with_text(self, changes: dict[Path, str]) -> InventoryFiles:
        """A view of the same directory with `changes` (path -> new text) in place of the files."""
        return InventoryFiles(self.root, _cache=self._cache, _staged={**self.staged, **changes})

    def exists(self, path: Path) -> bool:
        return path in self.staged or os.path.lexists(path)

    def staged_in(self, directory: Path) -> list[Path]:
        """Staged files directly in `directory` (new ones the disk does not list yet)."""
        return sorted(p for p in self.staged if p.parent == directory)

    def text(self, path: Path) -> tuple[str, int] | Problem:
        """The file's text and permission bits, or a Problem (fleet/yamlio.read_text's rules)."""
        if path in self.staged:
            mode = self._cache.texts.get(path)
            return self.staged[path], mode[1] if isinstance(mode, tuple) else 0o644
        if path not in self._cache.texts:
            self._cache.disk_reads += 1
            self._cache.texts[path] = read_text(path)
        return self._cache.texts[path]

    def doc(self, path: Path) -> YamlDoc | Problem:
        """The file parsed (YAML, line numbers, vault detection), once per text."""
        if path not in self.staged and path in self._cache.docs:
            return self._cache.docs[path]
        read = self.text(path)
        doc = read if isinstance(read, Problem) else document(path, *read)
        if path not in self.staged:
            self._cache.docs[path] = doc
        return doc
