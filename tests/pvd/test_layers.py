"""The package's folders are layers: a module imports only from its own layer or below.

errors/paths < chain < protocol < deploy < client, index < relayer, reconcile, explorer
< cli, bench.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pvd"
LAYERS = {
    "errors": 0,
    "paths": 0,
    "chain": 1,
    "protocol": 2,
    "deploy": 3,
    "client": 4,
    "index": 4,
    "relayer": 5,
    "reconcile": 5,
    "explorer": 5,
    "cli": 6,
    "bench": 6,
}


def top_level(module: str) -> str:
    return module.split(".")[1]


def pvd_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pvd."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pvd."))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem != "__init__")


def test_every_part_of_the_package_has_a_layer():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert parts <= set(LAYERS) | {"__init__"}, parts - set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_never_imports_a_higher_layer(path: Path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if own == "__init__":
        return
    higher = {m for m in pvd_imports(path) if LAYERS[top_level(m)] > LAYERS[own]}
    assert not higher, f"{path.relative_to(PACKAGE)} imports a higher layer: {sorted(higher)}"
