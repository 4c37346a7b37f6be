"""The relayer's configuration: `pvd relay --config FILE`.

Owns reading the TOML file (stdlib tomllib), applying the PVD_* environment overrides
and validating everything into frozen dataclasses. Any bad input (missing file,
malformed TOML, missing field, wrong type, unknown key, missing key variable) raises
UserError with one line that names the problem and the fix. The config never holds a
key: it names the environment variable (or keystore file and password variable) that
does; pvd.relayer.keys loads it.

Relative paths in the file are relative to the file's directory; relative paths in
environment variables are relative to the working directory. config/relay.example.toml
documents every field.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import urlparse

from eth_utils.address import is_address, to_checksum_address

from pvd.errors import UserError

ChainName: TypeAlias = Literal["payment", "business"]
CHAIN_NAMES: tuple[ChainName, ChainName] = ("payment", "business")
MAX_DOMAIN_ID = 2**32 - 1  # domain ids are uint32 on-chain (IOutbox.localDomain)
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
RPC_SCHEMES = ("http", "https", "ws", "wss")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Route(StrEnum):
    """A relay direction: messages read on the source chain, delivered on the other."""

    BUSINESS_TO_PAYMENT = "business->payment"
    PAYMENT_TO_BUSINESS = "payment->business"

    @property
    def source(self) -> ChainName:
        return "business" if self is Route.BUSINESS_TO_PAYMENT else "payment"

    @property
    def destination(self) -> ChainName:
        return "payment" if self is Route.BUSINESS_TO_PAYMENT else "business"


@dataclass(frozen=True)
class EnvKey:
    """A hex private key held in an environment variable (named here, never copied)."""

    env: str


@dataclass(frozen=True)
class KeystoreKey:
    """An encrypted JSON keystore file; its password is in an environment variable."""

    path: Path
    password_env: str


KeySource: TypeAlias = EnvKey | KeystoreKey


@dataclass(frozen=True)
class ChainConfig:
    """One chain as this relayer sees it: where to reach it and how to read it."""

    name: ChainName
    rpc_urls: tuple[str, ...]  # tried in order; the first that answers is used
    domain_id: int  # protocol domain id (uint32), independent of the EVM chain id
    manifest: Path  # deployment manifest: chain id, genesis hash, contract addresses
    confirmations: int  # act on a log only once it is this many blocks deep (0 = at once)
    poll_interval: float  # seconds between polls for new blocks
    log_chunk_size: int  # blocks per eth_getLogs request
    rescan_margin: int  # blocks re-read below the checkpoint on start
    # WebSocket endpoints (ws, wss) whose newHeads subscription wakes the relayer; empty:
    # poll every poll_interval. Reads and sends still go to rpc_urls.
    ws_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreConfig:
    path: Path  # the SQLite file (WAL); its lock file is <path>.lock
    lock_dir: Path  # one lock file per key address, shared by every relayer of this user


@dataclass(frozen=True)
class MetricsConfig:
    host: str
    port: int  # 0 = no metrics endpoint


@dataclass(frozen=True)
class LogConfig:
    level: str
    format: Literal["text", "json"]


@dataclass(frozen=True)
class RetryConfig:
    base_delay: float  # seconds; ceiling of the first retry's delay
    max_delay: float  # seconds; cap of every delay
    max_attempts: int  # failed attempts before a message is dead (off-chain only)


@dataclass(frozen=True)
class Peer:
    """Another attester: its address and where it serves its signatures."""

    address: str  # checksummed attester address
    url: str


@dataclass(frozen=True)
class QuorumConfig:
    listen_host: str
    listen_port: int  # where this attester serves its own signatures; 0 = do not serve
    peers: tuple[Peer, ...]


@dataclass(frozen=True)
class RelayConfig:
    """The whole, validated configuration of one `pvd relay` process (one attester)."""

    source: Path  # the config file it came from
    name: str
    payment: ChainConfig
    business: ChainConfig
    attestation_key: KeySource
    gas_key: KeySource
    store: StoreConfig
    metrics: MetricsConfig
    log: LogConfig
    retry: RetryConfig
    quorum: QuorumConfig
    batch_size: int = 200  # most messages in one delivery transaction
    submit_turn_seconds: float = 2.0  # how long each place in the submit order waits
    access_lists: bool = True  # pre-flight with eth_createAccessList and send its list

    def chain(self, name: ChainName) -> ChainConfig:
        return self.payment if name == "payment" else self.business


# --- environment overrides -----------------------------------------------------------

_Kind = Literal["str", "int", "float", "bool", "path", "urls"]


def _override_table() -> tuple[tuple[str, tuple[str, ...], _Kind], ...]:
    common: list[tuple[str, tuple[str, ...], _Kind]] = [
        ("PVD_RELAY_NAME", ("relay", "name"), "str"),
        ("PVD_RELAY_BATCH_SIZE", ("relay", "batch_size"), "int"),
        ("PVD_RELAY_SUBMIT_TURN_SECONDS", ("relay", "submit_turn_seconds"), "float"),
        ("PVD_RELAY_ACCESS_LISTS", ("relay", "access_lists"), "bool"),
        ("PVD_STORE", ("store", "path"), "path"),
        ("PVD_LOCK_DIR", ("store", "lock_dir"), "path"),
        ("PVD_METRICS_HOST", ("metrics", "host"), "str"),
        ("PVD_METRICS_PORT", ("metrics", "port"), "int"),
        ("PVD_LOG_LEVEL", ("log", "level"), "str"),
        ("PVD_LOG_FORMAT", ("log", "format"), "str"),
        ("PVD_RETRY_BASE_DELAY", ("retry", "base_delay"), "float"),
        ("PVD_RETRY_MAX_DELAY", ("retry", "max_delay"), "float"),
        ("PVD_RETRY_MAX_ATTEMPTS", ("retry", "max_attempts"), "int"),
        ("PVD_QUORUM_LISTEN_HOST", ("quorum", "listen_host"), "str"),
        ("PVD_QUORUM_LISTEN_PORT", ("quorum", "listen_port"), "int"),
    ]
    per_chain: list[tuple[str, _Kind]] = [
        ("rpc_urls", "urls"),
        ("ws_urls", "urls"),
        ("domain_id", "int"),
        ("manifest", "path"),
        ("confirmations", "int"),
        ("poll_interval", "float"),
        ("log_chunk_size", "int"),
        ("rescan_margin", "int"),
    ]
    for chain in CHAIN_NAMES:
        for key, kind in per_chain:
            common.append((f"PVD_{chain.upper()}_{key.upper()}", ("chains", chain, key), kind))
    return tuple(common)


#: Every environment variable the relayer reads as an override, with the field it sets.
ENV_OVERRIDES = _override_table()


def _parse_env(var: str, text: str, kind: _Kind) -> object:
    text = text.strip()
    if kind == "int":
        try:
            return int(text, 10)
        except ValueError:
            raise UserError(
                f"{var}={text!r} is not an integer; set it to a whole number or unset it"
            ) from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise UserError(
                f"{var}={text!r} is not a number; set it to seconds or unset it"
            ) from None
    if kind == "bool":
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise UserError(f"{var}={text!r} is not true or false; set it to true or false or unset it")
    if kind == "path":
        return os.path.normpath(Path(text).expanduser().absolute()) if text else text
    if kind == "urls":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Write each PVD_* override into `raw`; return which field each variable set."""
    origin: dict[tuple[str, ...], str] = {}
    for var, path, kind in ENV_OVERRIDES:
        if var not in environ:
            continue
        value = _parse_env(var, environ[var], kind)
        table: Any = raw
        for part in path[:-1]:
            if not isinstance(table, dict):
                break
            table = table.setdefault(part, {})
        if isinstance(table, dict):  # a non-table here is reported by validation
            table[path[-1]] = value
            origin[path] = var
    return origin


# --- validation ----------------------------------------------------------------------


def _type_name(value: object) -> str:
    return type(value).__name__


class _Table:
    """One TOML table being validated; every error names the file, table and key."""

    def __init__(
        self,
        raw: object,
        path: tuple[str, ...],
        ctx: _Context,
    ) -> None:
        self.path = path
        self.ctx = ctx
        if not isinstance(raw, dict):
            raise ctx.error(
                f"[{'.'.join(path)}] must be a table, got {_type_name(raw)}",
                f"write it as a [{'.'.join(path)}] section",
            )
        self.raw: dict[str, Any] = raw
        self.used: set[str] = set()

    @property
    def label(self) -> str:
        return f"[{'.'.join(self.path)}]" if self.path else "top level"

    def field(self, key: str) -> str:
        var = self.ctx.origin.get((*self.path, key))
        where = f"{self.label} {key}"
        return f"{where} (set by {var})" if var else where

    def _get(self, key: str, required: bool, hint: str) -> Any:
        self.used.add(key)
        if key not in self.raw:
            if required:
                raise self.ctx.error(f"{self.label} is missing {key!r}", f"add {key} = {hint}")
            return None
        return self.raw[key]

    def _wrong(self, key: str, value: object, hint: str) -> UserError:
        return self.ctx.error(
            f"{self.field(key)} must be {hint}, got {value!r} ({_type_name(value)})",
            f"set {key} = {hint}",
        )

    def integer(
        self, key: str, lo: int, hi: int, default: int | None = None, hint: str = ""
    ) -> int:
        hint = hint or f"an integer {lo}..{hi}"
        value = self._get(key, default is None, hint)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self._wrong(key, value, hint)
        return int(value)

    def number(self, key: str, lo: float, hi: float, default: float) -> float:
        hint = f"a number of seconds {lo:g}..{hi:g}"
        value = self._get(key, False, hint)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise self._wrong(key, value, hint)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, False, "true or false")
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._wrong(key, value, "true or false")
        return value

    def string(
        self,
        key: str,
        hint: str,
        default: str | None = None,
        check: Callable[[str], bool] = bool,
    ) -> str:
        value = self._get(key, default is None, hint)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, str) or not check(value):
            raise self._wrong(key, value, hint)
        return value

    def path_(self, key: str, hint: str, default: Path | None = None) -> Path:
        if key not in self.raw and default is not None:
            self.used.add(key)
            return default
        text = self.string(key, hint)
        return Path(os.path.normpath(self.ctx.base / Path(text).expanduser()))

    def table(self, key: str, required: bool = True) -> _Table:
        path = ".".join((*self.path, key))
        if required and key not in self.raw:
            raise self.ctx.error(
                f"{self.label} is missing [{path}]",
                f"add a [{path}] section (see config/relay.example.toml)",
            )
        value = self._get(key, False, "")
        return _Table({} if value is None else value, (*self.path, key), self.ctx)

    def has(self, key: str) -> bool:
        return key in self.raw

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            valid = ", ".join(sorted(self.used))
            raise self.ctx.error(
                f"{self.label} has unknown key {unknown[0]!r}",
                f"remove it or fix its spelling (valid keys: {valid})",
            )


@dataclass(frozen=True)
class _Context:
    file: Path
    base: Path
    origin: dict[tuple[str, ...], str]
    environ: Mapping[str, str]

    def error(self, problem: str, fix: str) -> UserError:
        return UserError(f"config {self.file}: {problem}; {fix}")


def _is_env_name(text: str) -> bool:
    return bool(_ENV_NAME.match(text))


def _is_rpc_url(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in RPC_SCHEMES and bool(parsed.netloc)


def _is_http_url(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _is_ws_url(text: str) -> bool:
    parsed = urlparse(text)
    return parsed.scheme in ("ws", "wss") and bool(parsed.netloc)


def _chain(t: _Table, name: ChainName) -> ChainConfig:
    urls = t._get("rpc_urls", True, '["http://127.0.0.1:8545"]')
    hint = 'a non-empty list of RPC URLs (http, https, ws or wss), e.g. ["http://127.0.0.1:8545"]'
    if (
        not isinstance(urls, list)
        or not urls
        or not all(isinstance(u, str) and _is_rpc_url(u) for u in urls)
    ):
        raise t._wrong("rpc_urls", urls, hint)
    ws = t._get("ws_urls", False, "")
    ws_hint = 'a list of WebSocket URLs (ws or wss), e.g. ["ws://127.0.0.1:8545"], or []'
    if ws is None:
        ws = []
    if not isinstance(ws, list) or not all(isinstance(u, str) and _is_ws_url(u) for u in ws):
        raise t._wrong("ws_urls", ws, ws_hint)
    chain = ChainConfig(
        name=name,
        rpc_urls=tuple(urls),
        domain_id=t.integer("domain_id", 1, MAX_DOMAIN_ID),
        manifest=t.path_("manifest", '"deployments/<chain>.json" (a deployment manifest path)'),
        confirmations=t.integer("confirmations", 0, 10_000),
        poll_interval=t.number("poll_interval", 0.01, 3600.0, 1.0),
        log_chunk_size=t.integer("log_chunk_size", 1, 1_000_000, 2_000),
        rescan_margin=t.integer("rescan_margin", 0, 1_000_000, 64),
        ws_urls=tuple(ws),
    )
    t.done()
    return chain


def _key(t: _Table, role: str, check: bool) -> KeySource:
    env_hint = '"PVD_<ROLE>_KEY" (the name of an environment variable, not the key)'
    if t.has("env") == t.has("keystore"):
        raise t.ctx.error(
            f"{t.label} must name exactly one of 'env' or 'keystore'",
            'set env = "PVD_..._KEY", or keystore = "<file>" with password_env = "PVD_..."',
        )
    source: KeySource
    if t.has("env"):
        env = t.string("env", env_hint, check=_is_env_name)
        if check and not t.ctx.environ.get(env, "").strip():
            raise t.ctx.error(
                f"{t.label} env var {env} is not set",
                f"export {env} with the {role} key's hex private key (0x + 64 hex digits)",
            )
        source = EnvKey(env)
    else:
        path = t.path_("keystore", '"keys/<name>.json" (an encrypted JSON keystore)')
        password_env = t.string("password_env", env_hint, check=_is_env_name)
        if check and not path.is_file():
            raise t.ctx.error(
                f"{t.field('keystore')}: no keystore file at {path}",
                "create it (e.g. eth_account Account.encrypt) or fix the path",
            )
        if check and password_env not in t.ctx.environ:
            raise t.ctx.error(
                f"{t.label} password env var {password_env} is not set",
                f"export {password_env} with the password of {path.name}",
            )
        source = KeystoreKey(path, password_env)
    t.done()
    return source


def _peers(t: _Table, raw: object) -> tuple[Peer, ...]:
    hint = '[[quorum.peers]] entries with address = "0x..." and url = "http://host:port"'
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise t._wrong("peers", raw, "an array of tables " + hint)
    peers: list[Peer] = []
    for index, item in enumerate(raw):
        p = _Table(item, (*t.path, f"peers[{index}]"), t.ctx)
        address = p.string("address", '"0x..." (an attester address)', check=is_address)
        url = p.string(
            "url", '"http://host:port" (the peer\'s signature endpoint)', check=_is_http_url
        )
        p.done()
        peers.append(Peer(to_checksum_address(address), url.rstrip("/")))
    seen: set[str] = set()
    for peer in peers:
        if peer.address in seen:
            raise t.ctx.error(
                f"[quorum] lists peer {peer.address} twice", "keep one entry per attester"
            )
        seen.add(peer.address)
    return tuple(peers)


def default_lock_dir() -> Path:
    """Where key locks live unless configured: per user, shared by all their relayers."""
    return Path(tempfile.gettempdir()) / f"pvd-locks-{os.getuid()}"


def parse_config(
    raw: dict[str, Any],
    file: Path,
    environ: Mapping[str, str],
    check_keys: bool = True,
) -> RelayConfig:
    """Validate an already-parsed TOML document (overrides from `environ` applied)."""
    file = file.absolute()
    origin = _apply_overrides(raw, environ)
    ctx = _Context(file=file, base=file.parent, origin=origin, environ=environ)
    top = _Table(raw, (), ctx)

    relay = top.table("relay", required=False)
    name = relay.string(
        "name",
        '"attester-1" (letters, digits, . _ -)',
        default="pvd-relay",
        check=lambda s: bool(_NAME.match(s)),
    )
    batch_size = relay.integer("batch_size", 1, 1_000, default=200)
    submit_turn_seconds = relay.number("submit_turn_seconds", 0.0, 3600.0, 2.0)
    access_lists = relay.boolean("access_lists", True)
    relay.done()

    chains = top.table("chains")
    payment = _chain(chains.table("payment"), "payment")
    business = _chain(chains.table("business"), "business")
    chains.done()
    if payment.domain_id == business.domain_id:
        raise ctx.error(
            f"both chains have domain_id {payment.domain_id}",
            "give each chain its own domain id (it is part of every signature)",
        )

    keys = top.table("keys")
    attestation = _key(keys.table("attestation"), "attestation", check_keys)
    gas = _key(keys.table("gas"), "gas", check_keys)
    keys.done()
    if attestation == gas:
        raise ctx.error(
            "[keys.attestation] and [keys.gas] name the same key",
            "use a separate gas key: an attestation key only signs messages",
        )

    store_t = top.table("store")
    store = StoreConfig(
        path=store_t.path_("path", '"relay.sqlite" (the relayer\'s SQLite store)'),
        lock_dir=store_t.path_(
            "lock_dir", '"<dir>" (a directory for key locks)', default_lock_dir()
        ),
    )
    store_t.done()

    metrics_t = top.table("metrics", required=False)
    metrics = MetricsConfig(
        host=metrics_t.string("host", '"127.0.0.1"', default="127.0.0.1"),
        port=metrics_t.integer("port", 0, 65535, default=0, hint="a TCP port 0..65535 (0 = off)"),
    )
    metrics_t.done()

    log_t = top.table("log", required=False)
    level = log_t.string(
        "level", "one of " + ", ".join(LOG_LEVELS), default="info", check=lambda s: s in LOG_LEVELS
    )
    fmt = log_t.string(
        "format", '"text" or "json"', default="text", check=lambda s: s in LOG_FORMATS
    )
    log_t.done()

    retry_t = top.table("retry", required=False)
    retry = RetryConfig(
        base_delay=retry_t.number("base_delay", 0.001, 3600.0, 1.0),
        max_delay=retry_t.number("max_delay", 0.001, 86_400.0, 300.0),
        max_attempts=retry_t.integer("max_attempts", 1, 1_000, default=10),
    )
    retry_t.done()
    if retry.max_delay < retry.base_delay:
        raise ctx.error(
            f"[retry] max_delay {retry.max_delay:g} is below base_delay {retry.base_delay:g}",
            "set max_delay >= base_delay",
        )

    quorum_t = top.table("quorum", required=False)
    quorum = QuorumConfig(
        listen_host=quorum_t.string("listen_host", '"127.0.0.1"', default="127.0.0.1"),
        listen_port=quorum_t.integer(
            "listen_port", 0, 65535, default=0, hint="a TCP port 0..65535 (0 = do not serve)"
        ),
        peers=_peers(quorum_t, quorum_t._get("peers", False, "")),
    )
    quorum_t.done()
    top.done()

    return RelayConfig(
        source=file,
        name=name,
        payment=payment,
        business=business,
        attestation_key=attestation,
        gas_key=gas,
        store=store,
        metrics=metrics,
        log=LogConfig(level=level, format="json" if fmt == "json" else "text"),
        retry=retry,
        quorum=quorum,
        batch_size=batch_size,
        submit_turn_seconds=submit_turn_seconds,
        access_lists=access_lists,
    )


def load_config(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    check_keys: bool = True,
) -> RelayConfig:
    """Read, override and validate a relay config file.

    `environ` defaults to os.environ. With `check_keys` (the default, as `pvd relay`
    needs) the key variables, keystore files and password variables must exist; tools
    that only read the store (`pvd retry`, `pvd status`) pass False.
    """
    env = os.environ if environ is None else environ
    file = Path(path).expanduser()
    try:
        text = file.read_bytes()
    except FileNotFoundError:
        raise UserError(
            f"config file not found: {file}; pass --config with the path of a relay config "
            "(see config/relay.example.toml)"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read config {file}: {exc.strerror}; check the path") from None
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"config {file}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        detail = " ".join(str(exc).split())
        raise UserError(f"config {file}: not valid TOML: {detail}; fix the syntax there") from None
    return parse_config(raw, file, env, check_keys=check_keys)
