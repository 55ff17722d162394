"""docs/architecture.md's import rules, checked on the source: no module outside store/ imports a
database driver; store/, ingest, retention, queries/ and web/ import nothing from otlp/ (only the
receivers, the composition root and the demo's in-process sink speak OTLP)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "ccmonitor"
DRIVERS = ("sqlite3", "psycopg", "psycopg_pool")
NO_OTLP = ("store/", "ingest.py", "retention.py", "queries/", "web/", "records.py", "telemetry.py")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


MODULES = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_imports_go_one_way(module: str) -> None:
    found = imports(SRC / module)
    if not module.startswith("store/"):
        assert not {m for m in found if m.split(".")[0] in DRIVERS}, f"{module} imports a database driver"
    if module.startswith(NO_OTLP):
        assert not {m for m in found if m.startswith("ccmonitor.otlp")}, f"{module} imports otlp/"


def test_the_rules_see_the_modules_they_guard() -> None:
    assert "store/postgres/writer.py" in MODULES and "ingest.py" in MODULES
    assert "psycopg" in imports(SRC / "store/postgres/writer.py")
    assert "ccmonitor.otlp.signals" in imports(SRC / "server.py")  # the checker does see otlp imports
