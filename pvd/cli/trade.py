"""`pvd trade propose|accept|cancel|hold|ship|confirm|expire|dispute|resolve|show`: the
trade steps of each party, over pvd.client.trade. Each step prints its transaction and
the trade's new state read back from both chains (`--json`: one object)."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from pvd.chain.connection import Chain
from pvd.cli.context import (
    HelpFormatter,
    Session,
    add_chain_options,
    add_json_option,
    add_signer_options,
    parse_duration,
    parse_hash,
    parse_trade_id,
    show,
)
from pvd.client import trade as client
from pvd.client.amounts import format_yuan, parse_yuan
from pvd.client.send import Sent
from pvd.errors import UserError

ZERO = client.ZERO_ADDRESS


def add_parser(sub: Any) -> None:
    """Register `pvd trade` and its steps."""
    trade = sub.add_parser(
        "trade", help="the steps of a trade, party by party", formatter_class=HelpFormatter
    )
    steps = trade.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, help_: str, who: str | None) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = steps.add_parser(
            name, help=help_, description=help_, formatter_class=HelpFormatter
        )
        if name != "propose":
            parser.add_argument("trade_id", metavar="TRADE_ID", help="0x and 64 hex digits")
        add_chain_options(parser)
        if who is not None:
            add_signer_options(parser, who)
        add_json_option(parser)
        return parser

    propose = step("propose", "the buyer proposes a trade to a seller", "the buyer")
    propose.add_argument("--seller", required=True, help="the seller's address (or role)")
    propose.add_argument("--price", required=True, help="in yuan, e.g. 1500 or 1500.25")
    propose.add_argument("--payee", default=None, help="who is paid (unset: the seller)")
    propose.add_argument("--payer", default=None, help="whose money is held (unset: the buyer)")
    propose.add_argument("--carrier", default=None, help="may confirm delivery with a proof")
    propose.add_argument("--arbiter", default=None, help="may resolve a dispute")
    propose.add_argument(
        "--deadline", type=parse_duration, default="24h", help="time from now to deliver"
    )
    propose.add_argument(
        "--hold-margin",
        type=parse_duration,
        default="1h",
        help="the hold outlives the deadline (or arbitration deadline) + the registry's "
        "safety window by this",
    )
    propose.add_argument(
        "--arbitration-window",
        type=parse_duration,
        default="24h",
        help="with --arbiter: how long after the deadline the arbiter may rule",
    )
    propose.add_argument(
        "--terms-file", type=Path, default=None, help="a contract document; its SHA-256 is kept"
    )
    propose.set_defaults(handler=_propose)

    step("accept", "the seller accepts a proposed trade", "the seller").set_defaults(
        handler=_simple(client.accept)
    )
    step("cancel", "the buyer or seller calls off an unfunded trade", "a party").set_defaults(
        handler=_simple(client.cancel)
    )
    hold = step("hold", "the payer holds the price for the trade", "the payer")
    hold.add_argument(
        "--direct",
        action="store_true",
        help="place the hold and announce it in two transactions instead of signing "
        "a PlaceHold authorization submitted through the settlement",
    )
    hold.add_argument(
        "--valid-for",
        type=parse_duration,
        default="1h",
        help="how long the signed authorization may be submitted",
    )
    hold.set_defaults(handler=_hold)
    ship = step("ship", "the seller ships a funded trade", "the seller")
    document = ship.add_mutually_exclusive_group(required=True)
    document.add_argument("--document", type=Path, default=None, help="the shipping document")
    document.add_argument(
        "--document-hash", default=None, help="or its hash (0x and 64 hex digits)"
    )
    ship.set_defaults(handler=_ship)
    confirm = step("confirm", "the buyer (or carrier) confirms delivery", "the buyer/carrier")
    confirm.add_argument("--proof", default=None, help="as the carrier: the proof-of-delivery hash")
    confirm.set_defaults(handler=_confirm)
    step("expire", "anyone ends a trade past its deadline", "anyone").set_defaults(
        handler=_simple(client.expire)
    )
    step("dispute", "the buyer or seller opens a dispute", "a party").set_defaults(
        handler=_simple(client.dispute)
    )
    resolve = step("resolve", "the arbiter rules on a dispute", "the arbiter")
    resolve.add_argument("ruling", choices=sorted(client.RULINGS), help="the ruling")
    resolve.set_defaults(handler=_resolve)
    step("show", "the trade on both chains", None).set_defaults(handler=_show)


# ----------------------------------------------------------------------------- steps


def _propose(args: argparse.Namespace) -> int:
    price = parse_yuan(args.price)
    session = Session.from_args(args)
    biz = "business"
    buyer = session.signer(biz).address
    seller = session.address(args.seller, "seller", biz)
    now = session.chain(biz).now()
    deadline = now + args.deadline
    registry = session.contract(biz, "TradeRegistry")
    safety_window, _ = registry.functions.timing().call()
    arbiter = session.address(args.arbiter, "arbiter", biz) if args.arbiter else ZERO
    arbitration_deadline = deadline + args.arbitration_window if arbiter != ZERO else 0
    # the hold outlives the last moment the trade can end (a ruling, else the deadline)
    hold_expiry = max(deadline, arbitration_deadline) + int(safety_window) + args.hold_margin
    terms = client.Terms(
        seller=seller,  # type: ignore[arg-type]
        payer=session.address(args.payer, "payer", biz) if args.payer else buyer,  # type: ignore[arg-type]
        payee=session.address(args.payee, "payee", biz) if args.payee else seller,  # type: ignore[arg-type]
        token=_token_address(session),  # type: ignore[arg-type]
        price=price,
        deadline=deadline,
        hold_expiry=hold_expiry,
        terms_hash=_file_hash(args.terms_file) if args.terms_file else b"\x00" * 32,
        carrier=session.address(args.carrier, "carrier", biz) if args.carrier else ZERO,
        arbiter=arbiter,
        arbitration_deadline=arbitration_deadline,
    )
    trade_id, sent = client.propose_sent(session.chain(biz), registry, buyer, terms)
    return show(args, [sent], {"trade_id": "0x" + trade_id.hex(), **_state(session, trade_id)})


def _simple(step: Any) -> Any:
    """A step that takes only the trade id: send it, show the trade."""

    def handler(args: argparse.Namespace) -> int:
        trade_id = parse_trade_id(args.trade_id)
        session = Session.from_args(args)
        sender = session.signer("business").address
        registry = session.contract("business", "TradeRegistry")
        client.trade_record(registry, trade_id)  # an unknown id: a one-line error first
        sent = step(session.chain("business"), registry, sender, trade_id)
        return show(args, [sent], _state(session, trade_id))

    return handler


def _hold(args: argparse.Namespace) -> int:
    trade_id = parse_trade_id(args.trade_id)
    session = Session.from_args(args)
    record = client.trade_record(session.contract("business", "TradeRegistry"), trade_id)
    payer = session.signer("payment")
    if payer.address != record.payer:
        raise UserError(
            f"trade 0x{trade_id.hex()} is paid from {record.payer}, not {payer.address}: "
            "sign as the trade's payer"
        )
    chain = session.chain("payment")
    token = session.contract("payment", "YuanToken")
    settlement = session.contract("payment", "PvdSettlement")
    if record.token != token.address:
        raise UserError(
            f"trade 0x{trade_id.hex()} is priced in token {record.token}, not this "
            f"deployment's {token.address}: use the deployment the trade was proposed on"
        )
    hold = client.hold_for(trade_id, record.terms(), settlement)
    sent: list[Sent]
    if args.direct:
        sent = list(client.hold_directly(chain, token, settlement, payer.address, hold))
    else:
        valid_before = chain.now() + args.valid_for
        sent = [
            client.hold_by_signature(
                chain, token, settlement, payer, hold, valid_before, payer.address
            )
        ]
    return show(args, sent, _state(session, trade_id))


def _ship(args: argparse.Namespace) -> int:
    trade_id = parse_trade_id(args.trade_id)
    document = (
        _file_hash(args.document)
        if args.document
        else parse_hash(args.document_hash, "--document-hash")
    )
    session = Session.from_args(args)
    seller = session.signer("business").address
    registry = session.contract("business", "TradeRegistry")
    client.trade_record(registry, trade_id)
    sent = client.ship(session.chain("business"), registry, seller, trade_id, document)
    return show(args, [sent], _state(session, trade_id))


def _confirm(args: argparse.Namespace) -> int:
    trade_id = parse_trade_id(args.trade_id)
    proof = parse_hash(args.proof, "--proof") if args.proof else None
    session = Session.from_args(args)
    sender = session.signer("business").address
    chain: Chain = session.chain("business")
    registry = session.contract("business", "TradeRegistry")
    client.trade_record(registry, trade_id)
    if proof is None:
        sent = client.confirm(chain, registry, sender, trade_id)
    else:
        sent = client.confirm_by_carrier(chain, registry, sender, trade_id, proof)
    return show(args, [sent], _state(session, trade_id))


def _resolve(args: argparse.Namespace) -> int:
    trade_id = parse_trade_id(args.trade_id)
    session = Session.from_args(args)
    arbiter = session.signer("business").address
    registry = session.contract("business", "TradeRegistry")
    client.trade_record(registry, trade_id)
    sent = client.resolve(session.chain("business"), registry, arbiter, trade_id, args.ruling)
    return show(args, [sent], _state(session, trade_id))


def _show(args: argparse.Namespace) -> int:
    trade_id = parse_trade_id(args.trade_id)
    session = Session.from_args(args)
    return show(args, [], {"trade_id": "0x" + trade_id.hex(), **_state(session, trade_id)})


# ------------------------------------------------------------------------------ views


def _state(session: Session, trade_id: bytes) -> dict[str, Any]:
    """The trade on both chains, as `show` prints it."""
    record = client.trade_record(session.contract("business", "TradeRegistry"), trade_id)
    business = {
        "status": record.status,
        "settlement": record.settlement,
        "buyer": record.buyer,
        "seller": record.seller,
        "payer": record.payer,
        "payee": record.payee,
        "carrier": None if record.carrier == ZERO else record.carrier,
        "arbiter": None if record.arbiter == ZERO else record.arbiter,
        "price": format_yuan(record.price),
        "deadline": record.deadline,
        "hold_expiry": record.hold_expiry,
    }
    side = client.payment_side(
        session.contract("payment", "YuanToken"),
        session.contract("payment", "PvdSettlement"),
        record,
    )
    payment = {
        "hold_id": "0x" + side.hold_id.hex(),
        "hold": side.hold_status,
        "announced": side.announced,
    }
    return {"business": business, "payment": payment}


def _token_address(session: Session) -> str:
    return str(session.contract("payment", "YuanToken").address)


def _file_hash(path: Path) -> bytes:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror}): give a readable file") from None
