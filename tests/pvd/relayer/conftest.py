"""Fixtures of the relayer's unit tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.pvd.relayer.helpers import FakeClock, to_toml


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any] | str], Path]:
    """Write a config document (dict or raw text) to tmp_path/relay.toml."""

    def write(document: dict[str, Any] | str) -> Path:
        path = tmp_path / "relay.toml"
        path.write_text(document if isinstance(document, str) else to_toml(document))
        return path

    return write


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
