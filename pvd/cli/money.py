"""The money commands of the payment chain's token, over pvd.client.money:

- `pvd bank appoint|allowance|remove|show` (the central bank appoints banks and sets
  their mint allowances),
- `pvd issue`, `pvd redeem` (a bank),
- `pvd wallet class|freeze|unfreeze|approve|show`,
- `pvd transfer` (any wallet),
- `pvd token pause|unpause|show`, `pvd role grant|revoke`,
- `pvd attesters show|propose|apply` (an inbox's attester set, through its governance
  delay).

Each prints its transaction(s) and the new state read back (`--json`: one object).
Amounts are yuan (`1500`, `1500.25`).
"""

from __future__ import annotations

import argparse
from typing import Any

from pvd.cli.context import (
    HelpFormatter,
    Session,
    add_chain_options,
    add_json_option,
    add_signer_options,
    show,
)
from pvd.client import governance, money
from pvd.client.amounts import format_yuan, parse_yuan
from pvd.client.roles import DEV_ROLES
from pvd.client.send import Sent
from pvd.errors import UserError

PAY = "payment"


def add_parser(sub: Any) -> None:
    """Register the money and operator commands."""

    def command(
        parent: Any, name: str, help_: str, who: str | None, handler: Any
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(
            name, help=help_, description=help_, formatter_class=HelpFormatter
        )
        add_chain_options(parser)
        if who is not None:
            add_signer_options(parser, who)
        add_json_option(parser)
        parser.set_defaults(handler=handler)
        return parser

    def group(name: str, help_: str) -> Any:
        parser = sub.add_parser(name, help=help_, formatter_class=HelpFormatter)
        return parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    bank = group("bank", "the central bank's banks (operators) and their mint allowances")
    appoint = command(bank, "appoint", "make an account a bank", "the central bank", _appoint)
    appoint.add_argument("bank", metavar="BANK", help="the bank's address (or role)")
    appoint.add_argument("--allowance", default=None, help="also set its mint allowance, in yuan")
    allowance = command(
        bank, "allowance", "set how much a bank may still issue", "the central bank", _allowance
    )
    allowance.add_argument("bank", metavar="BANK", help="the bank's address (or role)")
    allowance.add_argument("amount", metavar="YUAN", help="the new allowance, e.g. 1000000")
    remove = command(
        bank, "remove", "take a bank's operator role away", "the central bank", _remove
    )
    remove.add_argument("bank", metavar="BANK", help="the bank's address (or role)")
    bank_show = command(bank, "show", "a bank's role and allowance", None, _bank_show)
    bank_show.add_argument("bank", metavar="BANK", help="the bank's address (or role)")

    issue = command(sub, "issue", "a bank issues yuan to a wallet", "a bank", _issue)
    issue.add_argument("wallet", metavar="WALLET", help="who receives (address or role)")
    issue.add_argument("amount", metavar="YUAN", help="e.g. 1500 or 1500.25")
    redeem = command(
        sub, "redeem", "a bank redeems yuan a wallet approved it for", "a bank", _redeem
    )
    redeem.add_argument("wallet", metavar="WALLET", help="whose yuan are burned")
    redeem.add_argument("amount", metavar="YUAN", help="e.g. 1500 or 1500.25")
    transfer = command(sub, "transfer", "pay yuan to another wallet", "the payer", _transfer)
    transfer.add_argument("to", metavar="TO", help="who is paid (address or role)")
    transfer.add_argument("amount", metavar="YUAN", help="e.g. 1500 or 1500.25")

    wallet = group("wallet", "a wallet's class, freeze state and balances")
    klass = command(wallet, "class", "a bank sets a wallet's class (caps)", "a bank", _class)
    klass.add_argument("wallet", metavar="WALLET", help="address or role")
    klass.add_argument("wallet_class", metavar="CLASS", help="I, II, III or IV (or 1..4)")
    for name, handler in (("freeze", _freeze), ("unfreeze", _unfreeze)):
        action = command(
            wallet, name, f"compliance: {name} a wallet", "COMPLIANCE_ROLE holder", handler
        )
        action.add_argument("wallet", metavar="WALLET", help="address or role")
    approve = command(
        wallet, "approve", "let a bank redeem up to an amount", "the wallet", _approve
    )
    approve.add_argument("spender", metavar="BANK", help="the bank that will redeem")
    approve.add_argument("amount", metavar="YUAN", help="e.g. 1500 or 1500.25")
    wallet_show = command(wallet, "show", "balances, class, caps, freeze", None, _wallet_show)
    wallet_show.add_argument("wallet", metavar="WALLET", help="address or role")

    token = group("token", "the token as a whole: pause, unpause, supply")
    command(token, "pause", "stop every payment and hold", "PAUSER_ROLE holder", _pause)
    command(token, "unpause", "let payments and holds go on", "PAUSER_ROLE holder", _unpause)
    command(token, "show", "paused or not, total supply", None, _token_show)

    role = group("role", "the central bank grants and revokes the token's roles")
    for name, handler in (("grant", _grant), ("revoke", _revoke)):
        action = command(role, name, f"{name} a token role", "the central bank", handler)
        action.add_argument(
            "token_role", metavar="ROLE", choices=sorted(money.ROLES), help="which role"
        )
        action.add_argument("account", metavar="ACCOUNT", help="address or role name")

    attesters = group("attesters", "an inbox's attester set (delayed governance)")
    for name, handler, who in (
        ("show", _attesters_show, None),
        ("propose", _attesters_propose, "the inbox admin"),
        ("apply", _attesters_apply, "anyone"),
    ):
        action = command(attesters, name, f"{name} the attester set", who, handler)
        action.add_argument(
            "--chain", choices=("payment", "business"), required=True, help="whose inbox"
        )
        if name == "propose":
            action.add_argument(
                "--attesters", required=True, help="comma-separated attester addresses"
            )
            action.add_argument("--threshold", type=int, required=True, help="signatures needed")


# ----------------------------------------------------------------------------- bank


def _appoint(args: argparse.Namespace) -> int:
    allowance = parse_yuan(args.allowance, allow_zero=True) if args.allowance else None
    session, token, central = _token_and_signer(args)
    bank = session.address(args.bank, "bank", PAY)
    chain = session.chain(PAY)
    sent = [money.appoint_bank(chain, token, central, bank)]
    if allowance is not None:
        sent.append(money.set_mint_allowance(chain, token, central, bank, allowance))
    return show(args, sent, {"bank": money.bank_state(token, bank).to_json()})


def _allowance(args: argparse.Namespace) -> int:
    amount = parse_yuan(args.amount, allow_zero=True)
    session, token, central = _token_and_signer(args)
    bank = session.address(args.bank, "bank", PAY)
    if not money.bank_state(token, bank).operator:
        raise UserError(
            f"{bank} is not a bank (no OPERATOR_ROLE): appoint it first "
            f"(pvd bank appoint {args.bank})"
        )
    sent = money.set_mint_allowance(session.chain(PAY), token, central, bank, amount)
    return show(args, [sent], {"bank": money.bank_state(token, bank).to_json()})


def _remove(args: argparse.Namespace) -> int:
    session, token, central = _token_and_signer(args)
    bank = session.address(args.bank, "bank", PAY)
    sent = money.remove_bank(session.chain(PAY), token, central, bank)
    return show(args, [sent], {"bank": money.bank_state(token, bank).to_json()})


def _bank_show(args: argparse.Namespace) -> int:
    session = Session.from_args(args)
    bank = session.address(args.bank, "bank", PAY)
    token = session.contract(PAY, "YuanToken")
    return show(args, [], {"bank": money.bank_state(token, bank).to_json()})


# ---------------------------------------------------------------------------- money


def _issue(args: argparse.Namespace) -> int:
    amount = parse_yuan(args.amount)
    session, token, bank = _token_and_signer(args)
    wallet = session.address(args.wallet, "wallet", PAY)
    sent = money.issue(session.chain(PAY), token, bank, wallet, amount)
    return show(
        args,
        [sent],
        {
            "wallet": money.wallet_state(token, wallet).to_json(),
            "bank": money.bank_state(token, bank).to_json(),
        },
    )


def _redeem(args: argparse.Namespace) -> int:
    amount = parse_yuan(args.amount)
    session, token, bank = _token_and_signer(args)
    wallet = session.address(args.wallet, "wallet", PAY)
    approved = int(token.functions.allowance(wallet, bank).call())
    if approved < amount:
        raise UserError(
            f"{wallet} approved {bank} for {format_yuan(approved)} yuan, less than "
            f"{format_yuan(amount)}: the wallet approves first "
            f"(pvd wallet approve {bank} {format_yuan(amount)} as the wallet)"
        )
    sent = money.redeem(session.chain(PAY), token, bank, wallet, amount)
    return show(args, [sent], {"wallet": money.wallet_state(token, wallet).to_json()})


def _transfer(args: argparse.Namespace) -> int:
    amount = parse_yuan(args.amount)
    session, token, payer = _token_and_signer(args)
    to = session.address(args.to, "recipient", PAY)
    sent = money.transfer(session.chain(PAY), token, payer, to, amount)
    return show(
        args,
        [sent],
        {
            "from": money.wallet_state(token, payer).to_json(),
            "to": money.wallet_state(token, to).to_json(),
        },
    )


# --------------------------------------------------------------------------- wallet


def _class(args: argparse.Namespace) -> int:
    wallet_class = money.WalletClass.parse(args.wallet_class)
    session, token, bank = _token_and_signer(args)
    wallet = session.address(args.wallet, "wallet", PAY)
    sent = money.set_wallet_class(session.chain(PAY), token, bank, wallet, wallet_class)
    return show(args, [sent], {"wallet": money.wallet_state(token, wallet).to_json()})


def _freeze(args: argparse.Namespace) -> int:
    return _wallet_step(args, money.freeze)


def _unfreeze(args: argparse.Namespace) -> int:
    return _wallet_step(args, money.unfreeze)


def _wallet_step(args: argparse.Namespace, step: Any) -> int:
    session, token, signer = _token_and_signer(args)
    wallet = session.address(args.wallet, "wallet", PAY)
    sent: Sent = step(session.chain(PAY), token, signer, wallet)
    return show(args, [sent], {"wallet": money.wallet_state(token, wallet).to_json()})


def _approve(args: argparse.Namespace) -> int:
    amount = parse_yuan(args.amount, allow_zero=True)
    session, token, owner = _token_and_signer(args)
    spender = session.address(args.spender, "bank", PAY)
    sent = money.approve(session.chain(PAY), token, owner, spender, amount)
    approved = int(token.functions.allowance(owner, spender).call())
    return show(args, [sent], {"approved": {"spender": spender, "amount": format_yuan(approved)}})


def _wallet_show(args: argparse.Namespace) -> int:
    session = Session.from_args(args)
    wallet = session.address(args.wallet, "wallet", PAY)
    token = session.contract(PAY, "YuanToken")
    return show(args, [], {"wallet": money.wallet_state(token, wallet).to_json()})


# ---------------------------------------------------------------------- token, roles


def _pause(args: argparse.Namespace) -> int:
    session, token, pauser = _token_and_signer(args)
    sent = money.pause(session.chain(PAY), token, pauser)
    return show(args, [sent], {"token": money.token_state(token).to_json()})


def _unpause(args: argparse.Namespace) -> int:
    session, token, pauser = _token_and_signer(args)
    sent = money.unpause(session.chain(PAY), token, pauser)
    return show(args, [sent], {"token": money.token_state(token).to_json()})


def _token_show(args: argparse.Namespace) -> int:
    token = Session.from_args(args).contract(PAY, "YuanToken")
    return show(args, [], {"token": money.token_state(token).to_json()})


def _grant(args: argparse.Namespace) -> int:
    return _role_step(args, "grantRole")


def _revoke(args: argparse.Namespace) -> int:
    return _role_step(args, "revokeRole")


def _role_step(args: argparse.Namespace, function: str) -> int:
    from pvd.client.send import send

    session, token, admin = _token_and_signer(args)
    account = session.address(args.account, "account", PAY)
    role = money.ROLES[args.token_role]
    call = getattr(token.functions, function)(role, account)
    sent = send(session.chain(PAY), call, admin)
    held = money.has_role(token, role, account)
    return show(args, [sent], {"role": {"name": args.token_role, "account": account, "held": held}})


# ------------------------------------------------------------------------ attesters


def _attesters_show(args: argparse.Namespace) -> int:
    inbox = Session.from_args(args).contract(args.chain, "Inbox")
    return show(args, [], _attester_state(inbox))


def _attesters_propose(args: argparse.Namespace) -> int:
    session = Session.from_args(args)
    given = [a.strip() for a in args.attesters.split(",") if a.strip()]
    new = governance.attester_set(
        [session.address(a, "attester", args.chain) if a in DEV_ROLES else a for a in given],
        args.threshold,
    )
    admin = session.signer(args.chain).address
    inbox = session.contract(args.chain, "Inbox")
    sent = governance.propose_attester_set(session.chain(args.chain), inbox, admin, new)
    return show(args, [sent], _attester_state(inbox))


def _attesters_apply(args: argparse.Namespace) -> int:
    session = Session.from_args(args)
    sender = session.signer(args.chain).address
    inbox = session.contract(args.chain, "Inbox")
    if governance.pending_attesters(inbox) is None:
        raise UserError(
            f"the {args.chain} inbox has no pending attester set: propose one first "
            "(pvd attesters propose)"
        )
    sent = governance.apply_attester_set(session.chain(args.chain), inbox, sender)
    return show(args, [sent], _attester_state(inbox))


def _attester_state(inbox: Any) -> dict[str, Any]:
    pending = governance.pending_attesters(inbox)
    return {
        "attesters": governance.current_attesters(inbox).to_json(),
        "pending": None if pending is None else pending.to_json(),
    }


def _token_and_signer(args: argparse.Namespace) -> tuple[Session, Any, str]:
    session = Session.from_args(args)
    signer = session.signer(PAY).address
    return session, session.contract(PAY, "YuanToken"), signer
