"""Compare compiler settings: for each optimizer setting, the full compile's time and the
deployed size of the largest contracts (pvd's own compile path: solc through py-solc-x),
and the settlement's gas (`scripts/bench_gas.py bridge` on a copy of the tree).

Not part of `make bench` (it has no `measure()`; it compiles the project six times). Run it
from the repository root:

    .venv/bin/python -m scripts.gas.compiler_settings sizes   # compile time and sizes
    .venv/bin/python -m scripts.gas.compiler_settings gas     # gas per setting (minutes)

Each setting is applied to a copy of the committed tree (`git archive HEAD`) in a
temporary folder, so the working tree and its build/ are left alone. Time a compile on a
quiet machine: nothing else compiling or testing.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pvd.deploy.compiler import (  # noqa: E402
    load_compiler_settings,
    solc_binary,
    standard_json_input,
)

EIP170_LIMIT = 24_576  # bytes of deployed code

# name -> (optimizer runs, viaIR)
SETTINGS: dict[str, tuple[int, bool]] = {
    "runs 200": (200, False),
    "runs 10,000": (10_000, False),
    "runs 1,000,000": (1_000_000, False),
    "viaIR, runs 200": (200, True),
    "viaIR, runs 10,000": (10_000, True),
    "viaIR, runs 1,000,000": (1_000_000, True),
}

# The settlement's rows of `scripts/bench_gas.py bridge` shown per setting.
GAS_ROWS = (
    "settlement_hold_and_announce_by_signature",
    "settlement_deliver_delivered_outcome_2_of_3",
    "settlement_batch_of_10_delivered_outcomes",
    "inbox_deliver_2_of_3",
)

_OPTIMIZER = re.compile(
    r"    optimizer:\n      enabled: true\n      runs: \d+\n(    viaIR: \w+\n)?"
)


def tree_with(folder: Path, runs: int, via_ir: bool) -> Path:
    """The committed tree in `folder`, its brownie-config.yaml set to `runs` and `via_ir`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    config = folder / "brownie-config.yaml"
    text, count = _OPTIMIZER.subn(
        f"    optimizer:\n      enabled: true\n      runs: {runs}\n"
        f"    viaIR: {'true' if via_ir else 'false'}\n",
        config.read_text(),
    )
    if count != 1:
        raise SystemExit("brownie-config.yaml: the optimizer block is not where expected")
    config.write_text(text)
    return folder


def sizes(root: Path) -> tuple[float, dict[str, int]]:
    """Seconds of one full compile of contracts/ (no cache) and each contract's deployed size."""
    import solcx

    settings = load_compiler_settings(root)
    source_input = standard_json_input(root, settings)
    started = time.monotonic()
    output = solcx.compile_standard(
        source_input, solc_binary=solc_binary(), allow_paths=str(root), base_path=str(root)
    )
    seconds = time.monotonic() - started
    found = {
        name: len(data["evm"]["deployedBytecode"]["object"]) // 2
        for source, contracts in output["contracts"].items()
        if source.startswith("contracts/")
        for name, data in contracts.items()
    }
    return seconds, found


def gas(root: Path) -> dict[str, int] | str:
    """`scripts/bench_gas.py bridge` in the tree at `root` (brownie compiles it there), or
    the last line of its error (a contract over EIP-170's limit does not deploy)."""
    run = subprocess.run(
        [sys.executable, "scripts/bench_gas.py", "bridge"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"exit status {run.returncode}"
    found: dict[str, int] = {}
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "bridge":
            found[parts[1]] = int(parts[2].replace(",", ""))
    return found


def main(what: str) -> None:
    for name, (runs, via_ir) in SETTINGS.items():
        with tempfile.TemporaryDirectory(prefix="pvd-settings-") as folder:
            root = tree_with(Path(folder), runs, via_ir)
            if what == "sizes":
                seconds, found = sizes(root)
                largest = sorted(found.items(), key=lambda kv: -kv[1])[:3]
                over = [c for c, n in found.items() if n > EIP170_LIMIT]
                shown = ", ".join(f"{c} {n:,}" for c, n in largest)
                verdict = f"OVER EIP-170: {', '.join(over)}" if over else "all fit"
                print(f"{name:24} compile {seconds:5.1f} s  {shown}  ({verdict})", flush=True)
            else:
                found = gas(root)
                if isinstance(found, str):
                    print(f"{name:24} bench_gas.py failed: {found}", flush=True)
                    continue
                row = "  ".join(f"{op} {found.get(op, 0):,}" for op in GAS_ROWS)
                print(f"{name:24} {row}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("sizes", "gas"):
        raise SystemExit("usage: python -m scripts.gas.compiler_settings sizes|gas")
    main(sys.argv[1])
