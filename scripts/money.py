"""The central bank's and the banks' chores on the payment chain, one function each:

    brownie run scripts/money.py appoint_bank bank --network payment-local
    brownie run scripts/money.py allowance bank 100000 --network payment-local
    brownie run scripts/money.py issue buyer 5000 --network payment-local
    brownie run scripts/money.py wallet_class buyer II --network payment-local
    brownie run scripts/money.py grant compliance central-bank --network payment-local
    brownie run scripts/money.py freeze buyer --network payment-local      (and unfreeze)
    brownie run scripts/money.py grant pauser central-bank --network payment-local
    brownie run scripts/money.py pause --network payment-local             (and unpause)

Amounts in yuan; accounts as 0x... or a development role name; the signer is the last,
optional argument (a development role, local chains only, or env:NAME). Every chore is
pvd.client.money's function, the one `pvd` runs; the signer's role is checked first.
docs/console.md lists them.
"""

from pathlib import Path
from typing import Any

from brownie import network
from brownie._config import CONFIG
from brownie.project.main import get_loaded_projects

from pvd.client import money
from pvd.client.amounts import format_yuan, parse_yuan
from pvd.client.send import Sent
from pvd.errors import UserError
from pvd_brownie.operator import address, connect, require_role
from pvd_brownie.script import run

SCRIPT = "scripts/money.py"


def _token(signer: str) -> tuple[Any, Any, Any]:
    root = Path(get_loaded_projects()[0]._path)
    deployed, account = connect(root, CONFIG.networks, network.show_active(), signer)
    return deployed.chain, deployed.contract("YuanToken"), account


def _need(usage: str, *values: str) -> None:
    """A missing argument: one line with the usage (brownie would show a traceback)."""
    if not all(values):
        raise UserError(f"missing argument: brownie run {SCRIPT} {usage} --network <net>")


def _done(sent: Sent, what: str) -> None:
    print(f"{what}: transaction {sent.tx_hash} in block {sent.block}")


def appoint_bank(bank: str = "", signer: str = "central-bank") -> None:
    def step() -> None:
        _need("appoint_bank <bank>", bank)
        chain, token, account = _token(signer)
        require_role(token, "admin", account.address, "token")
        sent = money.appoint_bank(chain, token, account.address, address(bank))
        _done(sent, f"{address(bank)} is a bank (operator)")

    run(SCRIPT, step)


def allowance(bank: str = "", amount: str = "", signer: str = "central-bank") -> None:
    def step() -> None:
        _need("allowance <bank> <yuan>", bank, amount)
        chain, token, account = _token(signer)
        fen = parse_yuan(str(amount), allow_zero=True)
        require_role(token, "admin", account.address, "token")
        if not token.functions.hasRole(money.OPERATOR_ROLE, address(bank)).call():
            raise UserError(
                f"{address(bank)} is not a bank: appoint it first "
                f"(brownie run {SCRIPT} appoint_bank {bank})"
            )
        sent = money.set_mint_allowance(chain, token, account.address, address(bank), fen)
        _done(sent, f"{address(bank)} may issue {format_yuan(fen)} yuan")

    run(SCRIPT, step)


def issue(to: str = "", amount: str = "", signer: str = "bank") -> None:
    def step() -> None:
        _need("issue <to> <yuan>", to, amount)
        chain, token, account = _token(signer)
        fen = parse_yuan(str(amount))
        require_role(token, "operator", account.address, "token")
        left = token.functions.mintAllowance(account.address).call()
        if left < fen:
            raise UserError(
                f"{account.address} may issue only {format_yuan(left)} yuan more: raise its "
                f"allowance (brownie run {SCRIPT} allowance {account.address} <yuan>)"
            )
        if token.functions.paused().call():
            raise UserError(f"the token is paused: unpause it (brownie run {SCRIPT} unpause)")
        sent = money.issue(chain, token, account.address, address(to), fen)
        _done(sent, f"issued {format_yuan(fen)} yuan to {address(to)}")

    run(SCRIPT, step)


def wallet_class(wallet: str = "", cls: str = "", signer: str = "bank") -> None:
    def step() -> None:
        _need("wallet_class <wallet> <I|II|III|IV>", wallet, cls)
        chain, token, account = _token(signer)
        chosen = money.WalletClass.parse(str(cls))
        require_role(token, "operator", account.address, "token")
        sent = money.set_wallet_class(chain, token, account.address, address(wallet), chosen)
        _done(sent, f"{address(wallet)} is a class {chosen.name} wallet")

    run(SCRIPT, step)


def grant(role: str = "", account_: str = "", signer: str = "central-bank") -> None:
    def step() -> None:
        _need("grant <role> <account>", role, account_)
        if role not in money.ROLES:
            raise UserError(f"unknown role {role!r}: use one of {', '.join(money.ROLES)}")
        chain, token, account = _token(signer)
        require_role(token, "admin", account.address, "token")
        sent = money.grant_role(chain, token, account.address, money.ROLES[role], address(account_))
        _done(sent, f"{address(account_)} has the {role} role")

    run(SCRIPT, step)


def _compliance(action: str, target: str, signer: str) -> None:
    def step() -> None:
        _need(f"{action} <account>", target)
        chain, token, account = _token(signer)
        require_role(token, "compliance", account.address, "token")
        chore = money.freeze if action == "freeze" else money.unfreeze
        sent = chore(chain, token, account.address, address(target))
        _done(
            sent,
            f"{address(target)} {action}d" if action == "freeze" else f"{address(target)} unfrozen",
        )

    run(SCRIPT, step)


def freeze(target: str = "", signer: str = "central-bank") -> None:
    _compliance("freeze", target, signer)


def unfreeze(target: str = "", signer: str = "central-bank") -> None:
    _compliance("unfreeze", target, signer)


def _pausing(action: str, signer: str) -> None:
    def step() -> None:
        chain, token, account = _token(signer)
        require_role(token, "pauser", account.address, "token")
        chore = money.pause if action == "pause" else money.unpause
        _done(chore(chain, token, account.address), f"token {action}d")

    run(SCRIPT, step)


def pause(signer: str = "central-bank") -> None:
    _pausing("pause", signer)


def unpause(signer: str = "central-bank") -> None:
    _pausing("unpause", signer)
