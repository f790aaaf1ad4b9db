"""Every third-party module runhub imports is a declared (non-test) dependency, so the
README's first command (`pip install -e .`) gives a working `runhub`."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0] for d in project["dependencies"]}
    return {n.lower().replace("_", "-") for n in names}


def _imported() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "src" / "runhub").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "runhub"}


def test_every_imported_package_is_a_dependency() -> None:
    distributions = packages_distributions()
    declared = _declared()
    missing = {
        module
        for module in _imported()
        if not {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        & declared
    }
    assert not missing, f"imported but not in [project] dependencies: {missing}"
