"""The podman host settings systemd containers need, merged into containers.conf.

Without runc, crun fails on this kernel's hybrid cgroups; without `default_ulimits = []`
every start fails setting rlimits; `pids_limit = 0` lets systemd hosts run many processes.
Other settings in the file are kept, comments included.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from meetfleet.lab.podman import LabError

REQUIRED: dict[str, dict[str, Any]] = {
    "containers": {"default_ulimits": [], "pids_limit": 0},
    "engine": {"runtime": "runc"},
}


def merge_containers_conf(text: str, source: str = "containers.conf") -> tuple[str, list[str]]:
    """Return the text with the required settings, and the `section.key`s that were added or changed."""
    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:
        raise LabError(f"{source}: line {exc.line}, column {exc.col}: not valid TOML; "
                       "fix it by hand, the lab will then add its settings") from exc
    changed: list[str] = []
    for section, settings in REQUIRED.items():
        if section not in doc:
            doc.add(section, tomlkit.table())
        table = doc[section]
        for key, value in settings.items():
            if key not in table or table[key] != value:
                table[key] = value
                changed.append(f"{section}.{key}")
    return tomlkit.dumps(doc), changed


def ensure_containers_conf(path: Path) -> list[str]:
    """Merge the required settings into `path` (atomically); return what changed."""
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError as exc:
        raise LabError(f"{path}: cannot be read ({exc})") from exc
    new_text, changed = merge_containers_conf(text, str(path))
    if changed:
        write_atomically(path, new_text, mode=0o644)
    return changed


def write_atomically(path: Path, text: str, mode: int) -> None:
    """Write through a temporary file in the same directory: readers see old or new, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise LabError(f"{path}: cannot be written ({exc}); run as root") from exc
