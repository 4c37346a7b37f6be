"""`pvd`'s parser built for one command is that command's part of the whole parser: each
command in `COMMANDS` is registered by the module named there, with the same options and
help as in `pvd --help`'s full parser, and a run builds only what it needs."""

from __future__ import annotations

import argparse

import pytest

from pvd.cli.main import COMMANDS, _command_of, build_parser, main


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def helps(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """Every (sub)command's help text under `parser`, by its command words."""
    found = {prefix: parser.format_help().replace(parser.prog, "PROG")}
    for name, sub in subcommands(parser).items():
        found.update(helps(sub, f"{prefix} {name}".strip()))
    return found


FULL = build_parser()


def test_commands_names_every_command_of_the_full_parser() -> None:
    assert set(COMMANDS) == set(subcommands(FULL))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_is_parsed_as_the_full_parser_does(command: str) -> None:
    alone = build_parser(command)
    assert command in subcommands(alone)
    full = helps(subcommands(FULL)[command], command)
    assert helps(subcommands(alone)[command], command) == full
    # only the commands of the same module are registered
    assert {COMMANDS[name] for name in subcommands(alone)} == {COMMANDS[command]}


def test_the_command_word_is_the_first_non_option() -> None:
    assert _command_of(["-v", "trade", "show", "0x12"]) == "trade"
    assert _command_of(["--version"]) is None
    assert _command_of([]) is None


def test_a_mistyped_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["trades", "show"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'trades'" in err
    assert all(f"'{name}'" in err for name in COMMANDS)
