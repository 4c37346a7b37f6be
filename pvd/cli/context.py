"""What every party command needs before it acts: where the chains and the deployment
are, who signs, and how to show the result.

- Chains and deployment: `--payment-rpc` / `--business-rpc` (else $PVD_PAYMENT_RPC /
  $PVD_BUSINESS_RPC, else the chains `pvd up` started) and `--payment-manifest` /
  `--business-manifest` (else the manifests `pvd up` wrote). Each chain is checked
  against its manifest (chain id, genesis) before anything is sent.
- The signer: `--as ROLE` (a development account by role name: local chains only),
  `--key-env VAR` (a hex key in an environment variable) or `--keystore FILE` with
  `--password-env VAR`. The key is checked to hold ether for gas before sending.
- Addresses: a 0x address (a mixed-case one must carry a valid checksum) or, on local
  chains, a role name (`seller`).
- Output: text lines, or one JSON object with `--json`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from pvd.chain.connection import Chain, rpc_chain
from pvd.chain.local import LOCAL_CHAINS, StackState, read_stack
from pvd.cli.help import HelpFormatter as HelpFormatter  # re-exported: the commands' formatter
from pvd.client.roles import DEV_ROLES, dev_account
from pvd.client.send import Sent
from pvd.deploy.manifest import Manifest, load_abi, read_manifest
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT

DEFAULT_HOME = PROJECT_ROOT / ".pvd"
# Chain ids that only development chains use: pvd up's anvils, anvil's and hardhat's defaults.
LOCAL_CHAIN_IDS = frozenset({chain_id for _, chain_id in LOCAL_CHAINS} | {31337, 1337})
_TRADE_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
_HASH = _TRADE_ID

PAYMENT_CONTRACTS = ("YuanToken", "Outbox", "Inbox", "PvdSettlement")
BUSINESS_CONTRACTS = ("TradeRegistry", "Outbox", "Inbox")


def add_chain_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("chains and deployment")
    group.add_argument(
        "--home",
        type=Path,
        default=DEFAULT_HOME,
        help="the folder `pvd up` keeps its state in",
    )
    for role in ("payment", "business"):
        group.add_argument(
            f"--{role}-rpc",
            default=None,
            help=f"{role} chain RPC URL (unset: ${f'PVD_{role.upper()}_RPC'}, else pvd up's)",
        )
        group.add_argument(
            f"--{role}-manifest",
            type=Path,
            default=None,
            help=f"{role} chain deployment file (unset: the one pvd up wrote)",
        )


def add_signer_options(parser: argparse.ArgumentParser, who: str) -> None:
    group = parser.add_argument_group(f"signer ({who})")
    keys = group.add_mutually_exclusive_group(required=True)
    keys.add_argument(
        "--as",
        dest="role",
        metavar="ROLE",
        default=None,
        help=f"a development account by role, local chains only ({', '.join(DEV_ROLES)})",
    )
    keys.add_argument(
        "--key-env", default=None, help="environment variable holding the signer's hex key"
    )
    keys.add_argument("--keystore", type=Path, default=None, help="encrypted JSON keystore file")
    group.add_argument(
        "--password-env",
        default="PVD_KEYSTORE_PASSWORD",
        help="environment variable holding the keystore's password",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


# ------------------------------------------------------------------------- deployment


@dataclass
class Session:
    """The chains and contracts of one deployment, connected on demand, and the signer."""

    args: argparse.Namespace
    stack: StackState | None
    _chains: dict[str, tuple[Chain, Manifest, Path]] = field(default_factory=dict)
    _contracts: dict[tuple[str, str], Contract] = field(default_factory=dict)
    _signer: LocalAccount | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Session:
        return cls(args=args, stack=read_stack(Path(args.home)))

    # chains

    def chain(self, role: str) -> Chain:
        return self._connect(role)[0]

    def manifest(self, role: str) -> Manifest:
        return self._connect(role)[1]

    def contract(self, role: str, name: str) -> Contract:
        """The deployed contract `name` on the `role` chain (its ABI read once)."""
        if (role, name) not in self._contracts:
            chain, manifest, path = self._connect(role)
            deployed = manifest.contract(name)
            self._contracts[role, name] = chain.w3.eth.contract(
                address=Web3.to_checksum_address(deployed.address), abi=load_abi(path, deployed)
            )
        return self._contracts[role, name]

    def is_local(self, role: str) -> bool:
        chain = self.chain(role)
        host = urlparse(str(getattr(chain.w3.provider, "endpoint_uri", ""))).hostname or ""
        loopback = host in ("127.0.0.1", "localhost", "::1")
        return loopback and self.manifest(role).chain.chain_id in LOCAL_CHAIN_IDS

    def _connect(self, role: str) -> tuple[Chain, Manifest, Path]:
        if role not in self._chains:
            url = self._rpc_url(role)
            path = self._manifest_path(role)
            manifest = read_manifest(path)
            accounts = [self._signer] if self._signer is not None else []
            chain = rpc_chain(role, url, manifest.chain.domain_id, accounts)
            identity = chain.identity()
            if (identity.chain_id, identity.genesis_hash) != (
                manifest.chain.chain_id,
                manifest.chain.genesis_hash,
            ):
                raise UserError(
                    f"the {role} chain at {url} (chain id {identity.chain_id}) is not the one "
                    f"{path} was deployed to (chain id {manifest.chain.chain_id}, genesis "
                    f"{manifest.chain.genesis_hash[:10]}…): point --{role}-rpc at that chain, "
                    "or redeploy (pvd up)"
                )
            self._chains[role] = (chain, manifest, path)
        return self._chains[role]

    def _rpc_url(self, role: str) -> str:
        explicit = getattr(self.args, f"{role}_rpc", None) or os.environ.get(
            f"PVD_{role.upper()}_RPC"
        )
        if explicit:
            return str(explicit)
        if self.stack is not None and role in self.stack.rpc:
            return self.stack.rpc[role]
        raise UserError(
            f"no {role} chain: start a local stack (pvd up), or pass --{role}-rpc "
            f"(or set PVD_{role.upper()}_RPC)"
        )

    def _manifest_path(self, role: str) -> Path:
        explicit = getattr(self.args, f"{role}_manifest", None)
        if explicit is not None:
            return Path(explicit)
        if self.stack is not None and role in self.stack.manifests:
            return Path(self.stack.manifests[role])
        raise UserError(
            f"no {role} deployment file: start a local stack (pvd up), or pass "
            f"--{role}-manifest (pvd deploy writes it)"
        )

    # the signer

    def signer(self, role: str) -> LocalAccount:
        """The account that signs on the `role` chain ("payment"/"business"), checked to be
        allowed there (development keys only on local chains) and to hold ether for gas."""
        account = self._load_signer(role)
        chain = self.chain(role)
        if account.address not in {a.address for a in chain.accounts}:
            from web3.middleware import SignAndSendRawMiddlewareBuilder

            chain.w3.middleware_onion.inject(
                SignAndSendRawMiddlewareBuilder.build([account]), layer=0
            )
            chain.accounts = (*chain.accounts, account)
        if chain.w3.eth.get_balance(account.address) == 0:
            raise UserError(
                f"{account.address} has no ether on the {role} chain to pay for gas: "
                "fund it first (on a local stack, pvd up funds every development role)"
            )
        return account

    def _load_signer(self, role: str) -> LocalAccount:
        if self._signer is None:
            from pvd.relayer.config import EnvKey, KeystoreKey
            from pvd.relayer.keys import load_account

            args = self.args
            if args.role is not None:
                self._signer = dev_account(args.role)
            elif args.key_env is not None:
                self._signer = load_account(EnvKey(args.key_env))
            else:
                self._signer = load_account(KeystoreKey(Path(args.keystore), args.password_env))
        if self.args.role is not None and not self.is_local(role):
            raise UserError(
                f"--as {self.args.role} signs with a public development key, which pvd uses "
                f"only on local chains (the {role} chain is chain id "
                f"{self.manifest(role).chain.chain_id}): use --key-env or --keystore"
            )
        return self._signer

    # addresses

    def address(self, text: str, what: str, role: str) -> str:
        """An address given on the command line: 0x… (checksum checked) or, on local
        chains, a development role name."""
        if text in DEV_ROLES:
            if not self.is_local(role):
                raise UserError(
                    f"{what} {text!r} is a development role name, usable only on local "
                    "chains: give the 0x address"
                )
            return str(dev_account(text).address)
        return parse_address(text, what)


def parse_address(text: str, what: str) -> str:
    if not Web3.is_address(text) or not text.startswith("0x"):
        roles = ", ".join(DEV_ROLES)
        raise UserError(
            f"{what} {text!r} is not an address: give 0x and 40 hex digits "
            f"(or, on local chains, a role: {roles})"
        )
    if text != text.lower() and text[2:] != text[2:].upper() and not Web3.is_checksum_address(text):
        raise UserError(
            f"{what} {text} has a bad checksum (its mixed case does not match): "
            "copy the address again, or write it all in lower case"
        )
    return str(Web3.to_checksum_address(text))


def parse_trade_id(text: str) -> bytes:
    if not _TRADE_ID.match(text):
        raise UserError(
            f"trade id {text!r} is not 0x and 64 hex digits: copy it from pvd trade propose"
        )
    return bytes.fromhex(text[2:])


def parse_hash(text: str, what: str) -> bytes:
    if not _HASH.match(text):
        raise UserError(f"{what} {text!r} is not 0x and 64 hex digits (a 32-byte hash)")
    return bytes.fromhex(text[2:])


_DURATION = re.compile(r"^([0-9]+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """`90`, `90s`, `15m`, `24h`, `7d` -> seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: write a whole number with s, m, h or d (e.g. 24h)"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


# ----------------------------------------------------------------------------- output


def show(args: argparse.Namespace, sent: list[Sent], state: Mapping[str, Any]) -> int:
    """Print what was sent and the state read back: text, or JSON with --json."""
    if getattr(args, "json", False):
        print(json.dumps({"sent": [s.to_json() for s in sent], **state}, indent=2, default=str))
        return 0
    for s in sent:
        print(f"{s.chain}: {s.action} tx {s.tx_hash} (block {s.block}, gas {s.gas_used})")
    for line in _lines(state):
        print(line)
    return 0


def _lines(state: Mapping[str, Any], indent: str = "") -> list[str]:
    lines: list[str] = []
    for key, value in state.items():
        if isinstance(value, Mapping):
            lines.append(f"{indent}{key}:")
            lines += _lines(value, indent + "  ")
        else:
            lines.append(f"{indent}{key}: {_text(value)}")
    return lines


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "-"
    return str(value)
