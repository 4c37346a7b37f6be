"""The [index] section of `--config` for `pvd index` / `pvd trace`: the example file reads,
the command line wins, and a bad file is a one-line user error."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pvd.cli.index_commands import options
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT


def namespace(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**values)


def test_the_example_config_reads_and_the_command_line_wins():
    found = options(
        namespace(config=PROJECT_ROOT / "config" / "index.example.toml", db="sqlite:///x.db")
    )

    assert found["db"] == "sqlite:///x.db"
    assert found["payment_manifest"] == "deployments/payment-1.json"
    assert (found["payment_confirmations"], found["batch_blocks"]) == (0, 2000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[index]\nbatch = 3\n", "unknown key index.batch"),
        ('[index]\nbatch_blocks = "many"\n', "index.batch_blocks must be an integer"),
        ("[index\n", "is not valid TOML"),
        ("index = 3\n", "[index] must be a table"),
    ],
)
def test_a_bad_config_is_a_one_line_user_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "index.toml"
    path.write_text(text)

    with pytest.raises(UserError, match=message.replace("[", r"\[").replace(".", r"\.")) as caught:
        options(namespace(config=path))

    assert "\n" not in str(caught.value)


def test_a_missing_config_names_the_option(tmp_path: Path):
    with pytest.raises(UserError, match="does not exist: fix --config"):
        options(namespace(config=tmp_path / "none.toml"))
