"""The layout docs/architecture.md promises: its table matches the tree, and the rules the
restructuring set hold (no import circle, a pure placement model, an exporter apart from the CLI)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

SRC = REPO / "src" / "meetfleet"
HTTP_CLIENTS = {"httpx", "requests", "urllib.request", "http.client", "aiohttp"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _module(path: Path) -> str:
    parts = path.relative_to(REPO / "src").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_path_in_the_table_exists_and_every_package_is_in_it():
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("| path | what |"):].split("\n\n")[0]
    listed = [p for row in table.splitlines()[2:] for p in re.findall(r"`([^`]+)`", row.split("|")[1])]
    missing = [p for p in listed if "NAME" not in p and "SCENARIO" not in p and not (REPO / p).exists()]
    assert missing == []
    packages = sorted(f"src/meetfleet/{d.name}/" for d in SRC.iterdir() if (d / "__init__.py").exists())
    assert [p for p in packages if p not in listed] == []


def test_no_import_circle_between_modules():
    modules = {_module(p): p for p in SRC.rglob("*.py")}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in seen and (circle := visit(nxt, [*path, node])):
                return circle
        seen[node] = 2
        return None

    circles = [c for name in sorted(graph) if name not in seen and (c := visit(name, []))]
    assert circles == []


def test_the_placement_model_imports_no_http_client():
    offending = {str(p.relative_to(REPO)): sorted(_imports(p) & HTTP_CLIENTS)
                 for p in (SRC / "placement").rglob("*.py") if _imports(p) & HTTP_CLIENTS}
    assert offending == {}


def test_nothing_under_exporters_imports_the_cli():
    offending = [str(p.relative_to(REPO)) for p in (REPO / "exporters").rglob("*.py")
                 if any(m == "meetfleet.cli" or m.startswith("meetfleet.cli.") for m in _imports(p))]
    assert offending == []


def test_nothing_outside_tests_and_the_lab_imports_the_stand_ins():
    allowed = {SRC / "locate.py"}  # says where the stand-in is, for the lab's role
    offending = [str(p.relative_to(REPO)) for p in [*SRC.rglob("*.py"), *(REPO / "exporters").rglob("*.py")]
                 if p not in allowed and "testing" not in p.parts
                 and any(m.startswith("meetfleet.testing") for m in _imports(p))]
    assert offending == []
