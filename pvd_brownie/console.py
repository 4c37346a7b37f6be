"""pvd in a brownie console: `from pvd_brownie.console import pvd`, then each step of a
trade is one line, amounts in yuan (docs/console.md walks through a whole trade).

`pvd` works on the network brownie is connected to (payment-local or business-local)
and uses brownie's own contract objects (`YuanToken[-1]`, `TradeRegistry[-1]`...), so a
revert shows the custom error by name with its arguments, as anywhere in brownie. The
payment side reads a trade's terms from the business chain (found through the
deployment manifests and brownie's network list) to place the matching hold.

Accounts are anvil's well-known development accounts by the roles of
pvd.client.roles, as the `pvd` CLI names them (TEST KEYS ONLY, public, worthless):
`pvd.central_bank`, `pvd.bank`, `pvd.buyer`, `pvd.seller`, `pvd.carrier`, `pvd.stranger`...
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_typing import HexStr
from web3 import Web3

from pvd.client.roles import DEV_ROLES, dev_account
from pvd.client.trade import (
    HOLD_STATUS,
    SETTLEMENT,
    TRADE_STATUS,
    HoldRequest,
    place_hold_typed_data,
    token_domain,
)
from pvd.deploy.manifest import Manifest, load_abi, read_manifest
from pvd.errors import UserError

FEN_PER_YUAN = 100
HOUR = 3600
DAY = 24 * HOUR


def yuan(amount: int | float | str | Decimal) -> int:
    """Yuan to the token's unit, fen (2 decimals): yuan(12.5) == 1250."""
    fen = Decimal(str(amount)) * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise UserError(f"{amount} yuan is not a whole number of fen: give at most 2 decimals")
    return int(fen)


def in_yuan(fen: int) -> Decimal:
    return Decimal(int(fen)) / FEN_PER_YUAN


class Pvd:
    """The console's helpers for the connected chain (see the module docstring)."""

    def __init__(self) -> None:
        self._accounts: dict[str, Any] = {}

    # --- where we are -----------------------------------------------------------------

    def _project(self) -> Any:
        from brownie.project.main import get_loaded_projects

        loaded = get_loaded_projects()
        if not loaded:
            raise UserError("no brownie project is loaded: start the console in the pvd folder")
        return loaded[0]

    def _newest(self, name: str) -> Any:
        from brownie.network.main import show_active

        container = getattr(self._project(), name)
        if not len(container):
            raise UserError(
                f"no {name} deployed on {show_active()}: deploy first (brownie run "
                "scripts/deploy.py main config/deploy.local.toml --network payment-local)"
            )
        return container[-1]

    def __getattr__(self, name: str) -> Any:
        role = name.replace("_", "-")
        if role in DEV_ROLES:
            if role not in self._accounts:
                from brownie import accounts

                key = Web3.to_hex(dev_account(role).key)  # development key
                self._accounts[role] = accounts.add(key)
            return self._accounts[role]
        raise AttributeError(name)

    @property
    def token(self) -> Any:
        return self._newest("YuanToken")

    @property
    def settlement(self) -> Any:
        return self._newest("PvdSettlement")

    @property
    def registry(self) -> Any:
        return self._newest("TradeRegistry")

    yuan = staticmethod(yuan)
    in_yuan = staticmethod(in_yuan)

    # --- business chain: the trade ----------------------------------------------------

    def propose(self, price: int | float | str, days: int = 1) -> str:
        """The buyer proposes to buy from the seller at `price` yuan, paid in the payment
        chain's YuanToken of this deployment, delivery within `days`; the trade id."""
        from brownie import chain

        registry = self.registry
        deadline = chain.time() + days * DAY
        safety_window = registry.timing()[0]
        terms = (
            self.seller.address,  # seller
            self.buyer.address,  # payer
            self.seller.address,  # payee
            self.carrier.address,  # carrier
            "0x" + "00" * 20,  # arbiter: none
            self._remote_token(registry.address),
            yuan(price),
            b"\x00" * 32,  # terms hash
            deadline,
            deadline + safety_window + HOUR,  # hold expiry
            0,  # arbitration deadline
        )
        trade_id = registry.nextTradeId(self.buyer.address)
        registry.propose(terms, {"from": self.buyer}, silent=True)
        return str(trade_id)

    def accept(self, trade_id: str) -> str:
        self.registry.accept(trade_id, {"from": self.seller}, silent=True)
        return self.status(trade_id)

    def ship(self, trade_id: str, document: bytes = b"\x01" * 32) -> str:
        self.registry.ship(trade_id, document, {"from": self.seller}, silent=True)
        return self.status(trade_id)

    def confirm(self, trade_id: str) -> str:
        self.registry.confirmDelivery(trade_id, {"from": self.buyer}, silent=True)
        return self.status(trade_id)

    def status(self, trade_id: str) -> str:
        """The trade's status, and its settlement once there is one: 'Delivered, Paid'."""
        registry = self.registry
        status = TRADE_STATUS[registry.statusOf(trade_id)]
        settled = SETTLEMENT[registry.settlementOf(trade_id)]
        return status if settled == "None" else f"{status}, {settled}"

    # --- payment chain: money and holds -----------------------------------------------

    def balance(self, account: Any) -> Decimal:
        return in_yuan(self.token.balanceOf(account))

    def spendable(self, account: Any) -> Decimal:
        return in_yuan(self.token.spendableBalanceOf(account))

    def _hold(self, trade_id: str) -> HoldRequest:
        trade = self._remote_trade(trade_id)
        return HoldRequest(
            payer=trade["payer"],
            payee=trade["payee"],
            notary=self.settlement.address,
            amount=trade["price"],
            expiry=trade["holdExpiry"],
            ref=bytes(Web3.to_bytes(hexstr=HexStr(trade_id))),
        )

    def hold(self, trade_id: str) -> str:
        """The buyer places the trade's hold itself, and announces it to the business chain."""
        hold = self._hold(trade_id)
        buyer = self.buyer
        self.token.placeHold(
            hold.ref,
            hold.payee,
            hold.notary,
            hold.amount,
            hold.expiry,
            {"from": buyer},
            silent=True,
        )
        self.settlement.announce(hold.as_tuple(), {"from": buyer}, silent=True)
        return self.hold_status(trade_id)

    def sign_hold(self, trade_id: str, valid_for: int = HOUR) -> tuple[bytes, int]:
        """The buyer's EIP-712 signature of the trade's hold, as a wallet makes it, and
        the time it is valid before."""
        from brownie import chain

        hold = self._hold(trade_id)
        valid_before = chain.time() + valid_for
        typed = place_hold_typed_data(token_domain(self.token.eip712Domain()), hold, valid_before)
        signed = dev_account("buyer").sign_typed_data(full_message=typed)
        return bytes(signed.signature), valid_before

    def submit_hold(self, trade_id: str, signed: tuple[bytes, int], by: Any = None) -> str:
        """Anyone (default: the stranger) submits the buyer's signed hold; the settlement
        places and announces it."""
        hold = self._hold(trade_id)
        signature, valid_before = signed
        self.settlement.placeHoldAndAnnounce(
            hold.as_tuple(), valid_before, signature, {"from": by or self.stranger}, silent=True
        )
        return self.hold_status(trade_id)

    def latest_trade(self) -> str:
        """The id of the buyer's newest trade, read from the business chain."""
        registry, _ = self._remote_registry()
        nonce = registry.functions.nonceOf(self.buyer.address).call()
        if nonce == 0:
            raise UserError(
                "the buyer has proposed no trade yet: propose one in the business console"
            )
        return Web3.to_hex(registry.functions.tradeIdFor(self.buyer.address, nonce - 1).call())

    def hold_status(self, trade_id: str) -> str:
        hold = self._hold(trade_id)
        hold_id = self.token.holdId(hold.payer, hold.notary, hold.ref)
        return HOLD_STATUS[self.token.holdStatus(hold_id)]

    # --- the operator's chores ----------------------------------------------------------

    def issue(self, account: Any, amount: int | float | str) -> Decimal:
        """Appoint the bank if it is not one (central bank: role and a mint allowance),
        then the bank issues `amount` yuan to `account`."""
        token, admin, operator = self.token, self.central_bank, self.bank
        role = token.OPERATOR_ROLE()
        if not token.hasRole(role, operator):
            token.grantRole(role, operator, {"from": admin}, silent=True)
        if token.mintAllowance(operator) < yuan(amount):
            token.setMintAllowance(operator, yuan(amount), {"from": admin}, silent=True)
        token.issue(account, yuan(amount), {"from": operator}, silent=True)
        return self.balance(account)

    # --- waiting for the relayers -------------------------------------------------------

    def wait(self, trade_id: str, want: str, timeout: float = 60.0) -> str:
        """Until `status(trade_id)` (business chain) or `hold_status(trade_id)` (payment
        chain) is `want`; returns it, or raises after `timeout` seconds."""
        on_payment_chain = len(self._project().YuanToken) > 0
        look = self.hold_status if on_payment_chain else self.status
        deadline = time.monotonic() + timeout
        while (now := look(trade_id)) != want:
            if time.monotonic() > deadline:
                raise UserError(
                    f"trade {trade_id} is still {now!r} after {timeout:g}s, not {want!r}: "
                    "are the relayers running (`make relayers`)?"
                )
            time.sleep(0.2)
        return now

    # --- the other chain ----------------------------------------------------------------

    def _remote_trade(self, trade_id: str) -> dict[str, Any]:
        """The trade's fields, read from the business chain's registry."""
        registry, _ = self._remote_registry()
        fields = registry.functions.getTrade(trade_id).call()
        abi = next(i for i in registry.abi if i.get("name") == "getTrade")
        names = [c["name"] for c in abi["outputs"][0]["components"]]
        trade = dict(zip(names, fields, strict=True))
        if int(trade["buyer"], 16) == 0:
            raise UserError(f"no trade {trade_id} on the business chain: check the id")
        return trade

    def _remote_registry(self) -> tuple[Any, Path]:
        """The registry the settlement contract names (payment console)."""
        address = self.settlement.registry()
        for path, manifest in _manifests(self._project()):
            deployed = manifest.contracts.get("TradeRegistry")
            if deployed is not None and deployed.address == address:
                w3 = _web3_of(manifest.chain.chain_id)
                checksummed = Web3.to_checksum_address(address)
                return w3.eth.contract(address=checksummed, abi=load_abi(path, deployed)), path
        raise UserError(
            f"no manifest in deployments/ has the registry {address}: deploy with "
            "scripts/deploy.py (or pvd deploy)"
        )

    def _remote_token(self, registry: str) -> str:
        """The YuanToken of the payment side whose settlement names `registry` (business
        console)."""
        for path, manifest in _manifests(self._project()):
            settlement = manifest.contracts.get("PvdSettlement")
            token = manifest.contracts.get("YuanToken")
            if settlement is None or token is None:
                continue
            try:
                w3 = _web3_of(manifest.chain.chain_id)
                contract = w3.eth.contract(
                    address=Web3.to_checksum_address(settlement.address),
                    abi=load_abi(path, settlement),
                )
                if contract.functions.registry().call() == registry:
                    return token.address
            except Exception:  # a manifest of a chain that is not running: not this one
                continue
        raise UserError(
            f"no payment-side manifest in deployments/ belongs to the registry {registry}: "
            "deploy with scripts/deploy.py (or pvd deploy)"
        )


def _manifests(project: Any) -> list[tuple[Path, Manifest]]:
    """pvd's manifests in the project's deployments/, newest first."""
    folder = Path(project._path) / "deployments"
    found = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            found.append((path, read_manifest(path)))
        except UserError:
            continue
    return found


def _web3_of(chain_id: int) -> Web3:
    """A connection to the chain of brownie's network list with this chain id."""
    from brownie._config import CONFIG

    from pvd_brownie.deploy import network_url

    for name, net in CONFIG.networks.items():
        if net.get("chainid") is not None and int(net["chainid"]) == chain_id:
            return Web3(Web3.HTTPProvider(network_url(CONFIG.networks, name)))
    raise UserError(
        f"brownie has no network with chain id {chain_id}: add it (`brownie networks add`)"
    )


pvd = Pvd()
