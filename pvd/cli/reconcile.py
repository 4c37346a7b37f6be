"""`pvd reconcile`: check both chains' invariants (the work is in pvd.reconcile).

Registered apart from `pvd index`/`pvd trace` so that a trace never loads the reconciler
(and web3 with it).
"""

from __future__ import annotations

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register `reconcile` on pvd's subcommand parser."""
    from pvd.cli.help import HelpFormatter
    from pvd.reconcile import reconciler

    checker = subparsers.add_parser(
        "reconcile",
        help="check both chains' invariants (reads no relayer store)",
        formatter_class=HelpFormatter,
    )
    reconciler.add_arguments(checker)
    checker.set_defaults(handler=reconciler.run)
