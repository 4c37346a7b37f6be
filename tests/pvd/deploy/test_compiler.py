"""pvd's own compile path: the pinned settings from brownie-config.yaml, py-solc-x, and
the solc binary that `make setup` installed (native, or the solc-js wrapper)."""

from pathlib import Path

import pytest
import solcx
import yaml

from pvd.deploy.compiler import compile_contracts, load_compiler_settings, standard_json_input
from pvd.errors import UserError

ROOT = Path(__file__).resolve().parents[3]


def test_settings_are_the_ones_brownie_reads():
    raw = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())["compiler"]
    settings = load_compiler_settings(ROOT)
    assert settings.solc_version == str(raw["solc"]["version"])
    assert settings.evm_version == raw["evm_version"] == "prague"
    assert settings.optimizer_runs == raw["solc"]["optimizer"]["runs"]
    assert settings.via_ir is raw["solc"].get("viaIR", False)
    assert standard_json_input(ROOT, settings)["settings"]["viaIR"] is settings.via_ir
    assert "@openzeppelin=node_modules/@openzeppelin" in settings.remappings


def test_installed_solc_answers_with_the_pinned_version():
    settings = load_compiler_settings(ROOT)
    binary = solcx.install.get_executable(settings.solc_version)
    assert str(solcx.wrapper.get_solc_version(binary)) == settings.solc_version


def test_compile_contracts_resolves_openzeppelin_and_caches(tmp_path):
    artifacts = compile_contracts(ROOT)
    plain = artifacts["PlainERC20"]
    assert plain.source == "contracts/mocks/PlainERC20.sol"
    assert {item.get("name") for item in plain.abi} >= {"transfer", "balanceOf"}
    assert plain.bytecode.startswith("0x60") and len(plain.bytecode) > 1000
    assert "ERC20" not in artifacts  # OpenZeppelin's own contracts are not project artifacts
    assert compile_contracts(ROOT) == artifacts  # second call is served from build/pvd/


def test_standard_json_input_takes_every_contract_source():
    sources = standard_json_input(ROOT, load_compiler_settings(ROOT))["sources"]
    assert set(sources) == {str(p.relative_to(ROOT)) for p in (ROOT / "contracts").rglob("*.sol")}


def test_compile_error_is_a_user_error(tmp_path):
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "Broken.sol").write_text("pragma solidity 0.8.30; contract B {")
    (tmp_path / "brownie-config.yaml").write_text((ROOT / "brownie-config.yaml").read_text())
    with pytest.raises(UserError, match="compilation failed"):
        compile_contracts(tmp_path)


def test_py_solc_x_compile_source_works_through_the_installed_solc():
    out = solcx.compile_source(
        "pragma solidity 0.8.30;"
        "contract C { function f() external pure returns (uint) { return 7; } }",
        output_values=["abi", "bin"],
        solc_version=load_compiler_settings(ROOT).solc_version,
    )
    ((name, contract),) = out.items()
    assert name.endswith(":C")
    assert contract["abi"][0]["name"] == "f"
    assert contract["bin"]
