"""How every `pvd` command's help reads: each option ends with its default. Kept apart from
pvd.cli.context (which loads web3) so that commands without a chain, such as `pvd trace`
on the index, build their parser without loading it."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default: `(default: 24h)`, `(default: off)` for
    a flag, `(default: unset)` where the help says what unset means, `(required)`."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default is argparse.SUPPRESS:
            return text
        if not action.option_strings:  # a positional argument: always given
            return text
        if action.required:
            return f"{text} (required)"
        if action.nargs == 0 and action.default is False:
            return f"{text} (default: off)"
        if action.default is None:
            return f"{text} (default: unset)"
        return f"{text} (default: %(default)s)"
