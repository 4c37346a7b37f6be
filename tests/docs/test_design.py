"""docs/design.md stays true to the code: its configured numbers are the code's defaults, and
every test it names as checking an invariant exists.

The tables are found by the HTML comment before them (`<!-- docs-test: numbers -->`,
`<!-- docs-test: invariants -->`), the convention of docs/README.md.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"
INVARIANT_IDS = [f"C{i}" for i in range(1, 8)] + ["X1", "X2", "X3", "L1", "L2", "R1", "R2", "R3"]


def table_after(marker: str) -> list[list[str]]:
    """The rows (cells stripped) of the Markdown table that follows `<!-- docs-test: marker -->`."""
    lines = DESIGN.read_text(encoding="utf-8").splitlines()
    tag = f"<!-- docs-test: {marker} -->"
    assert tag in lines, f"docs/design.md lost its `{tag}` line before the table"
    rows = []
    for line in lines[lines.index(tag) + 1 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not all(set(cell) <= set("-: ") for cell in cells):
            rows.append(cells)
    return rows[1:]  # without the header


def code_value(dotted: str) -> object:
    """`pkg.module.Class.field` (a dataclass field's default) or `pkg.module.NAME`."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:-1]:
            value = getattr(value, name)
        last = parts[-1]
        if dataclasses.is_dataclass(value):
            fields = {field.name: field for field in dataclasses.fields(value)}
            if last in fields:
                return fields[last].default
        return getattr(value, last)
    raise AssertionError(f"{dotted}: no such module")


NUMBERS = table_after("numbers")


def test_the_design_lists_configured_numbers():
    assert len(NUMBERS) >= 4


@pytest.mark.parametrize("row", NUMBERS, ids=[row[0] for row in NUMBERS])
def test_a_number_in_the_design_is_the_codes(row):
    name, seconds, where = row
    reference = where.strip("`")
    documented = int(seconds.replace(",", ""))
    actual = code_value(reference)
    assert actual == documented, (
        f"docs/design.md says {name} is {seconds} s, but {reference} is {actual}: "
        "update the table in docs/design.md (and the prose after it)"
    )


INVARIANTS = table_after("invariants")
NAMED_TEST = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)*)`")


def test_every_invariant_is_listed_with_at_least_one_test():
    listed = {row[0]: row[2] for row in INVARIANTS}
    assert sorted(listed) == sorted(INVARIANT_IDS)
    for ident, tests in listed.items():
        assert NAMED_TEST.search(tests), f"{ident} names no test file in docs/design.md"


def defined_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


NAMED = [
    (row[0], match.group(1), [name for name in match.group(2).split("::") if name])
    for row in INVARIANTS
    for match in NAMED_TEST.finditer(row[2])
]


@pytest.mark.parametrize(
    ("ident", "path", "names"), NAMED, ids=[f"{i}:{p}::{'::'.join(n)}" for i, p, n in NAMED]
)
def test_a_test_named_for_an_invariant_exists(ident, path, names):
    file = ROOT / path
    assert file.is_file(), f"docs/design.md names {path} for {ident}, which does not exist"
    missing = [name for name in names if name not in defined_names(file)]
    assert not missing, (
        f"docs/design.md names {path}::{'::'.join(names)} for {ident}, but {missing} is not "
        "defined there: name the test that checks it now"
    )
