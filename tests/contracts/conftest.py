"""Fixtures shared by every contract test: each module in fixtures/ is a plugin (one
module per concern: network, accounts, isolation, token, trade, bridge...).

Keep project imports out of this file: brownie hashes the source of every module a
conftest imports from inside the project folder, and the compiled modules in .venv/ are
not text.
"""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.contracts.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)
