"""pvd.relayer.config: valid configs load; every bad input is a one-line UserError."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pvd.errors import UserError
from pvd.relayer.config import (
    ENV_OVERRIDES,
    EnvKey,
    KeystoreKey,
    Peer,
    RelayConfig,
    Route,
    load_config,
)
from tests.pvd.relayer.helpers import KEY_ENV, TEST_KEY_ATTESTER, valid_document

REPO = Path(__file__).resolve().parents[3]
WriteConfig = Callable[[dict[str, Any] | str], Path]


def user_error(path: Path, environ: dict[str, str] | None = None, **kwargs: Any) -> str:
    """Load and return the UserError's message, checking it is a single line."""
    with pytest.raises(UserError) as info:
        load_config(path, environ=KEY_ENV if environ is None else environ, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- valid -----------------------------------------------------------------------------


def test_the_example_config_in_the_repo_loads() -> None:
    config = load_config(REPO / "config/relay.example.toml", environ={}, check_keys=False)
    assert config.name == "attester-1"
    assert (config.payment.domain_id, config.business.domain_id) == (1, 2)
    assert config.attestation_key == EnvKey("PVD_ATTESTATION_KEY")
    assert config.gas_key == KeystoreKey(REPO / "config/keys/gas-1.json", "PVD_GAS_KEY_PASSWORD")
    assert config.store.path == REPO / ".pvd/attester-1.sqlite"
    assert len(config.quorum.peers) == 2
    assert config.payment.ws_urls == ("ws://127.0.0.1:8545",)
    assert config.business.ws_urls == ("ws://127.0.0.1:8546",)
    assert (config.batch_size, config.submit_turn_seconds) == (200, 2.0)
    assert config.access_lists is True


def test_the_relay_loop_keys_load_and_have_defaults(write_config: WriteConfig) -> None:
    document = valid_document()
    config = load_config(write_config(document), environ=KEY_ENV)
    assert (config.payment.ws_urls, config.batch_size, config.submit_turn_seconds) == (
        (),
        200,
        2.0,
    )
    document["chains"]["payment"]["ws_urls"] = ["ws://127.0.0.1:8545", "wss://node.example"]
    document["relay"].update(batch_size=50, submit_turn_seconds=0.5)
    config = load_config(write_config(document), environ=KEY_ENV)
    assert config.payment.ws_urls == ("ws://127.0.0.1:8545", "wss://node.example")
    assert (config.batch_size, config.submit_turn_seconds) == (50, 0.5)
    environ = {
        **KEY_ENV,
        "PVD_BUSINESS_WS_URLS": "ws://10.0.0.1:8546",
        "PVD_RELAY_BATCH_SIZE": "7",
        "PVD_RELAY_SUBMIT_TURN_SECONDS": "3",
    }
    config = load_config(write_config(document), environ=environ)
    assert config.business.ws_urls == ("ws://10.0.0.1:8546",)
    assert (config.batch_size, config.submit_turn_seconds) == (7, 3.0)


def test_access_lists_are_on_by_default_and_can_be_turned_off(write_config: WriteConfig) -> None:
    document = valid_document()
    assert load_config(write_config(document), environ=KEY_ENV).access_lists is True
    document["relay"]["access_lists"] = False
    assert load_config(write_config(document), environ=KEY_ENV).access_lists is False
    environ = {**KEY_ENV, "PVD_RELAY_ACCESS_LISTS": "true"}
    assert load_config(write_config(document), environ=environ).access_lists is True
    document["relay"]["access_lists"] = "no"
    message = user_error(write_config(document))
    assert "[relay] access_lists must be true or false, got 'no'" in message
    del document["relay"]["access_lists"]
    message = user_error(write_config(document), {**KEY_ENV, "PVD_RELAY_ACCESS_LISTS": "maybe"})
    assert "PVD_RELAY_ACCESS_LISTS='maybe' is not true or false" in message


def test_a_valid_config_loads_every_field(write_config: WriteConfig, tmp_path: Path) -> None:
    config = load_config(write_config(valid_document()), environ=KEY_ENV)
    assert isinstance(config, RelayConfig)
    assert config.source == tmp_path / "relay.toml"
    assert config.payment.rpc_urls == ("http://127.0.0.1:8545",)
    assert config.business.rpc_urls == ("http://127.0.0.1:8546", "http://127.0.0.1:8547")
    assert config.payment.confirmations == 2
    assert config.payment.poll_interval == 0.5
    assert config.payment.log_chunk_size == 500
    assert config.payment.rescan_margin == 10
    assert config.attestation_key == EnvKey("PVD_TEST_ATTESTATION_KEY")
    assert config.gas_key == EnvKey("PVD_TEST_GAS_KEY")
    assert (config.metrics.host, config.metrics.port) == ("127.0.0.1", 9101)
    assert (config.log.level, config.log.format) == ("debug", "json")
    assert (config.retry.base_delay, config.retry.max_delay, config.retry.max_attempts) == (
        0.5,
        30.0,
        5,
    )
    assert config.quorum.listen_port == 9201
    assert config.quorum.peers == (
        Peer("0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF", "http://127.0.0.1:9202"),
    )
    assert config.chain("business") is config.business


def test_relative_paths_are_relative_to_the_config_file(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    config = load_config(write_config(valid_document()), environ=KEY_ENV)
    assert config.payment.manifest == tmp_path / "deployments/payment.json"
    assert config.store.path == tmp_path / "state/attester-1.sqlite"
    assert config.store.lock_dir == tmp_path / "locks"


def test_optional_fields_take_their_defaults(write_config: WriteConfig) -> None:
    document = valid_document()
    for section in ("relay", "metrics", "log", "retry", "quorum"):
        del document[section]
    del document["store"]["lock_dir"]
    config = load_config(write_config(document), environ=KEY_ENV)
    assert config.name == "pvd-relay"
    assert config.business.poll_interval == 1.0
    assert config.business.log_chunk_size == 2000
    assert config.business.rescan_margin == 64
    assert config.metrics.port == 0
    assert (config.log.level, config.log.format) == ("info", "text")
    assert (config.retry.base_delay, config.retry.max_delay, config.retry.max_attempts) == (
        1.0,
        300.0,
        10,
    )
    assert config.quorum.peers == ()
    assert config.store.lock_dir.name.startswith("pvd-locks-")


def test_environment_variables_override_the_file(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {
        **KEY_ENV,
        "PVD_STORE": "elsewhere/store.sqlite",
        "PVD_METRICS_PORT": "9999",
        "PVD_PAYMENT_RPC_URLS": "http://10.0.0.1:8545, ws://10.0.0.2:8546",
        "PVD_BUSINESS_CONFIRMATIONS": "12",
        "PVD_RETRY_BASE_DELAY": "0.25",
        "PVD_LOG_FORMAT": "text",
    }
    config = load_config(write_config(valid_document()), environ=environ)
    assert config.store.path == tmp_path / "elsewhere/store.sqlite"
    assert config.metrics.port == 9999
    assert config.payment.rpc_urls == ("http://10.0.0.1:8545", "ws://10.0.0.2:8546")
    assert config.business.confirmations == 12
    assert config.retry.base_delay == 0.25
    assert config.log.format == "text"


def test_the_environment_can_supply_a_field_the_file_omits(write_config: WriteConfig) -> None:
    document = valid_document()
    del document["chains"]["payment"]["domain_id"]
    config = load_config(write_config(document), environ={**KEY_ENV, "PVD_PAYMENT_DOMAIN_ID": "7"})
    assert config.payment.domain_id == 7


def test_every_override_names_a_field_the_config_has() -> None:
    fields = {f.name for f in dataclasses.fields(RelayConfig)}
    assert len({var for var, _, _ in ENV_OVERRIDES}) == len(ENV_OVERRIDES)
    for var, path, _ in ENV_OVERRIDES:
        assert var.startswith("PVD_")
        top = path[1] if path[0] == "chains" else path[0]
        assert top in fields | {"relay"}, var


def test_a_keystore_key_source_is_read(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "gas.json").write_text("{}")
    document = valid_document()
    document["keys"]["gas"] = {"keystore": "gas.json", "password_env": "PVD_TEST_GAS_PASSWORD"}
    environ = {"PVD_TEST_ATTESTATION_KEY": TEST_KEY_ATTESTER, "PVD_TEST_GAS_PASSWORD": ""}
    config = load_config(write_config(document), environ=environ)
    assert config.gas_key == KeystoreKey(tmp_path / "gas.json", "PVD_TEST_GAS_PASSWORD")


def test_the_config_is_frozen_and_never_holds_the_key(write_config: WriteConfig) -> None:
    config = load_config(write_config(valid_document()), environ=KEY_ENV)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.name = "other"  # type: ignore[misc]
    assert TEST_KEY_ATTESTER[2:] not in repr(config)


def test_routes_name_their_source_and_destination() -> None:
    assert (Route.BUSINESS_TO_PAYMENT.source, Route.BUSINESS_TO_PAYMENT.destination) == (
        "business",
        "payment",
    )
    assert (Route.PAYMENT_TO_BUSINESS.source, Route.PAYMENT_TO_BUSINESS.destination) == (
        "payment",
        "business",
    )


# --- invalid ---------------------------------------------------------------------------


def test_a_missing_file_says_which_and_how_to_fix_it(tmp_path: Path) -> None:
    message = user_error(tmp_path / "nope.toml")
    assert f"config file not found: {tmp_path / 'nope.toml'}" in message
    assert "--config" in message


def test_malformed_toml_names_the_line(write_config: WriteConfig) -> None:
    message = user_error(write_config("[chains.payment]\ndomain_id = = 3\n"))
    assert "not valid TOML" in message
    assert "line 2" in message
    assert "fix the syntax" in message


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_bytes(b"name = '\xff'\n")
    assert "not UTF-8" in user_error(path)


def test_a_missing_section_is_named(write_config: WriteConfig) -> None:
    document = valid_document()
    del document["chains"]
    message = user_error(write_config(document))
    assert "top level is missing [chains]" in message
    assert "add a [chains] section (see config/relay.example.toml)" in message


def test_a_missing_chain_is_named(write_config: WriteConfig) -> None:
    document = valid_document()
    del document["chains"]["business"]
    assert "[chains] is missing [chains.business]" in user_error(write_config(document))


def test_a_missing_field_is_named_with_what_to_write(write_config: WriteConfig) -> None:
    document = valid_document()
    del document["chains"]["payment"]["domain_id"]
    message = user_error(write_config(document))
    assert "[chains.payment] is missing 'domain_id'" in message
    assert "add domain_id = an integer 1..4294967295" in message


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        (("chains", "payment"), "domain_id", "1", "[chains.payment] domain_id must be an integer"),
        (("chains", "payment"), "domain_id", 0, "must be an integer 1..4294967295, got 0"),
        (("chains", "payment"), "domain_id", 2**32, "must be an integer 1..4294967295"),
        (("chains", "payment"), "confirmations", -1, "confirmations must be an integer 0..10000"),
        (("chains", "payment"), "confirmations", True, "got True (bool)"),
        (("chains", "payment"), "rpc_urls", "http://a:1", "rpc_urls must be a non-empty list"),
        (("chains", "payment"), "rpc_urls", [], "rpc_urls must be a non-empty list"),
        (("chains", "payment"), "rpc_urls", ["ftp://a:1"], "(http, https, ws or wss)"),
        (("chains", "payment"), "poll_interval", "1s", "poll_interval must be a number of seconds"),
        (("chains", "payment"), "ws_urls", ["http://a:1"], "ws_urls must be a list of WebSocket"),
        (("chains", "payment"), "ws_urls", "ws://a:1", "ws_urls must be a list of WebSocket"),
        (("relay",), "batch_size", 0, "[relay] batch_size must be an integer 1..1000"),
        (("relay",), "submit_turn_seconds", -1, "submit_turn_seconds must be a number"),
        (("chains", "payment"), "log_chunk_size", 0, "log_chunk_size must be an integer 1.."),
        (("chains", "payment"), "manifest", 3, "manifest must be"),
        (("metrics",), "port", 70000, "[metrics] port must be a TCP port 0..65535 (0 = off)"),
        (("log",), "level", "loud", "[log] level must be one of debug, info, warning, error"),
        (("log",), "format", "xml", '[log] format must be "text" or "json"'),
        (("relay",), "name", "has space", "[relay] name must be"),
        (("retry",), "max_attempts", 0, "[retry] max_attempts must be an integer 1..1000"),
        (("keys", "gas"), "env", "NOT-A-NAME", "[keys.gas] env must be"),
        (("store",), "path", ["a"], "[store] path must be"),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_named(
    write_config: WriteConfig, section: tuple[str, ...], key: str, value: Any, expected: str
) -> None:
    document = valid_document()
    table = document
    for part in section:
        table = table[part]
    table[key] = value
    message = user_error(write_config(document))
    assert expected in message
    assert f"set {key} = " in message


def test_a_section_that_is_not_a_table_is_named(write_config: WriteConfig) -> None:
    document = valid_document()
    document["metrics"] = 9101
    message = user_error(write_config(document))
    assert "[metrics] must be a table, got int" in message


def test_an_unknown_key_is_named_with_the_valid_ones(write_config: WriteConfig) -> None:
    document = valid_document()
    document["metrics"]["prot"] = 1
    message = user_error(write_config(document))
    assert "[metrics] has unknown key 'prot'" in message
    assert "remove it or fix its spelling (valid keys: host, port)" in message


def test_an_unknown_top_level_section_is_named(write_config: WriteConfig) -> None:
    document = valid_document()
    document["telemetry"] = {"port": 1}
    assert "top level has unknown key 'telemetry'" in user_error(write_config(document))


def test_an_unknown_chain_is_named(write_config: WriteConfig) -> None:
    document = valid_document()
    document["chains"]["third"] = document["chains"]["payment"]
    assert "[chains] has unknown key 'third'" in user_error(write_config(document))


def test_a_missing_key_variable_is_named_with_how_to_set_it(write_config: WriteConfig) -> None:
    message = user_error(
        write_config(valid_document()), environ={"PVD_TEST_GAS_KEY": "0x" + "22" * 32}
    )
    assert "[keys.attestation] env var PVD_TEST_ATTESTATION_KEY is not set" in message
    assert "export PVD_TEST_ATTESTATION_KEY" in message


def test_key_variables_are_not_required_when_keys_are_not_checked(
    write_config: WriteConfig,
) -> None:
    config = load_config(write_config(valid_document()), environ={}, check_keys=False)
    assert config.attestation_key == EnvKey("PVD_TEST_ATTESTATION_KEY")


def test_a_missing_keystore_file_is_named(write_config: WriteConfig, tmp_path: Path) -> None:
    document = valid_document()
    document["keys"]["gas"] = {"keystore": "nope.json", "password_env": "PVD_TEST_GAS_PASSWORD"}
    message = user_error(write_config(document))
    assert f"no keystore file at {tmp_path / 'nope.json'}" in message


def test_a_missing_keystore_password_variable_is_named(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    (tmp_path / "gas.json").write_text("{}")
    document = valid_document()
    document["keys"]["gas"] = {"keystore": "gas.json", "password_env": "PVD_TEST_GAS_PASSWORD"}
    message = user_error(write_config(document))
    assert "[keys.gas] password env var PVD_TEST_GAS_PASSWORD is not set" in message


def test_a_key_with_both_or_neither_source_is_refused(write_config: WriteConfig) -> None:
    document = valid_document()
    document["keys"]["gas"] = {}
    message = user_error(write_config(document))
    assert "[keys.gas] must name exactly one of 'env' or 'keystore'" in message
    document["keys"]["gas"] = {"env": "PVD_TEST_GAS_KEY", "keystore": "k.json"}
    assert "exactly one of" in user_error(write_config(document))


def test_the_same_key_for_attestation_and_gas_is_refused(write_config: WriteConfig) -> None:
    document = valid_document()
    document["keys"]["gas"] = {"env": "PVD_TEST_ATTESTATION_KEY"}
    message = user_error(write_config(document))
    assert "name the same key" in message
    assert "use a separate gas key" in message


def test_two_chains_with_one_domain_id_are_refused(write_config: WriteConfig) -> None:
    document = valid_document()
    document["chains"]["business"]["domain_id"] = 1
    assert "both chains have domain_id 1" in user_error(write_config(document))


def test_a_bad_override_value_names_the_variable(write_config: WriteConfig) -> None:
    message = user_error(
        write_config(valid_document()), environ={**KEY_ENV, "PVD_METRICS_PORT": "abc"}
    )
    assert (
        message == "PVD_METRICS_PORT='abc' is not an integer; set it to a whole number or unset it"
    )


def test_an_out_of_range_override_names_the_variable(write_config: WriteConfig) -> None:
    message = user_error(
        write_config(valid_document()), environ={**KEY_ENV, "PVD_METRICS_PORT": "99999"}
    )
    assert "[metrics] port (set by PVD_METRICS_PORT) must be a TCP port" in message


def test_a_peer_with_a_bad_address_is_named(write_config: WriteConfig) -> None:
    document = valid_document()
    document["quorum"]["peers"][0]["address"] = "0x1234"
    message = user_error(write_config(document))
    assert "[quorum.peers[0]] address must be" in message


def test_a_peer_listed_twice_is_refused(write_config: WriteConfig) -> None:
    document = valid_document()
    peer = document["quorum"]["peers"][0]
    document["quorum"]["peers"].append({**peer, "url": "http://127.0.0.1:9999"})
    assert "lists peer 0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF twice" in user_error(
        write_config(document)
    )


def test_a_max_delay_below_the_base_delay_is_refused(write_config: WriteConfig) -> None:
    document = valid_document()
    document["retry"] = {"base_delay": 10, "max_delay": 5}
    assert "max_delay 5 is below base_delay 10" in user_error(write_config(document))
