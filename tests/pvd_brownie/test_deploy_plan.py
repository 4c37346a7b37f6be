"""pvd_brownie.deploy.load_plan: a deployment plan from a TOML file and key=value
arguments; every missing or bad value is one UserError naming it and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvd.errors import UserError
from pvd_brownie.deploy import load_plan, network_url

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "deploy.local.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    return path


def without(key: str) -> str:
    """The example config without `key` (its list spans lines: drop through the `]`)."""
    lines, skipping = [], False
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith(f"{key} "):
            skipping = line.rstrip().endswith("[")
            continue
        if skipping:
            skipping = not line.startswith("]")
            continue
        lines.append(line)
    return "\n".join(lines)


def test_the_example_config_is_a_complete_plan() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.networks == ("payment-local", "business-local")
    assert plan.system.threshold == 2
    assert len(plan.system.attesters) == 3
    assert (plan.system.payment_domain, plan.system.business_domain) == (1, 2)
    assert plan.deployer == "dev"
    assert plan.out == ROOT / "deployments"


def test_command_line_values_replace_the_file_s() -> None:
    attesters = (
        "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc,0x976EA74026E726554dB657fA54763abd0C3a0aa9"
    )
    plan = load_plan(EXAMPLE, ["threshold=1", f"attesters={attesters}", "out=/tmp/x"])
    assert plan.system.threshold == 1
    assert plan.system.attesters == tuple(attesters.split(","))
    assert plan.out == Path("/tmp/x")


@pytest.mark.parametrize("key", ["attesters", "threshold", "payment_network", "deployer"])
def test_a_missing_value_is_named(tmp_path: Path, key: str) -> None:
    with pytest.raises(UserError, match=f"{key} is missing: set it there or pass {key}="):
        load_plan(write(tmp_path, without(key)))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("threshold=4", "threshold 4 must be 1..3"),
        ("threshold=0", "threshold 0 must be 1..3"),
        ("threshold=two", "threshold is a whole number"),
        ("business_domain=1", "payment_domain and business_domain must differ"),
        ("attesters=0x1234", "is not an address"),
        (
            "attesters=0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc,"
            "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
            "listed twice",
        ),
        ("thresold=2", "give key=value with a key of"),
        ("threshold", "give key=value with a key of"),
        ("business_network=payment-local", "must differ"),
    ],
)
def test_a_bad_value_is_refused(override: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_plan(EXAMPLE, [override])


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown key 'treshold'"):
        load_plan(write(tmp_path, EXAMPLE.read_text() + "\ntreshold = 2\n"))


def test_a_missing_file_names_the_example(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"copy config/deploy\.local\.toml"):
        load_plan(tmp_path / "none.toml")


def test_a_network_url_needs_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    networks = {"payment-local": {"host": "$PVD_PAYMENT_RPC", "chainid": 7001}}
    monkeypatch.delenv("PVD_PAYMENT_RPC", raising=False)
    with pytest.raises(UserError, match=r"\$PVD_PAYMENT_RPC is not set: `source .pvd/chains.env`"):
        network_url(networks, "payment-local")
    monkeypatch.setenv("PVD_PAYMENT_RPC", "http://127.0.0.1:1234")
    assert network_url(networks, "payment-local") == "http://127.0.0.1:1234"
    with pytest.raises(UserError, match="brownie has no network 'nope'"):
        network_url(networks, "nope")
