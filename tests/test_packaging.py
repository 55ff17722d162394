"""Every third-party module the package imports comes from a declared (pinned) dependency, so the
README's serve command works in a fresh venv without the test extras."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "ccmonitor").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return found


def test_runtime_imports_are_declared_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[=<>\[ ]", d)[0].lower().replace("_", "-") for d in project["dependencies"]}
    dists = packages_distributions()
    missing = {}
    for module in imported_modules():
        top = module.split(".")[0]
        if top in ("ccmonitor", "__future__") or top in sys.stdlib_module_names:
            continue
        owners = dists.get(top, [])
        if module.startswith("google."):  # a namespace package: resolve the real owner
            owners = [d for d in owners if _provides(d, module)]
        if not {o.lower().replace("_", "-") for o in owners} & declared:
            missing[module] = owners
    assert not missing, f"imported but not declared in [project].dependencies: {missing}"
    assert all("==" in d for d in project["dependencies"]), "pin every runtime dependency"


def _provides(dist: str, module: str) -> bool:
    from importlib.metadata import files
    want = module.replace(".", "/")
    return any(str(f).startswith(want) for f in files(dist) or [])
