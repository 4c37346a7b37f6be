"""Make the pinned solc available to py-solc-x and brownie, preferring a native compiler.

Order: an existing install in py-solc-x's folder that answers with the pinned version; a
native `solc` on PATH with that version; py-solc-x's own download (bounded by a timeout,
since the download host may be unreachable); and last the solc-js wrapper in
tools/solc/, *linked* into the folder so that it still finds node_modules through its
real path. Safe to run again: it is a no-op once a working compiler is in place.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import solcx

from pvd.deploy.compiler import load_compiler_settings

ROOT = Path(__file__).resolve().parent.parent
WRAPPER = ROOT / "tools" / "solc" / "solc.cjs"
PROBE_SECONDS = 5
DOWNLOAD_SECONDS = 20


def answers_version(binary: Path | str, version: str, timeout: float = PROBE_SECONDS) -> bool:
    """True if `binary --version` reports `version` quickly (a solc-select shim that tries
    to download a compiler offline hangs: the timeout makes that a plain no)."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=timeout
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return f"Version: {version}+" in out


def is_wrapper(path: Path) -> bool:
    return path.is_symlink() and path.resolve() == WRAPPER


def try_download(version: str) -> bool:
    code = f"import solcx; solcx.install_solc({version!r})"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, timeout=DOWNLOAD_SECONDS
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class Outcome:
    """What `install` found or did; `changed` is False when a working compiler was there."""

    message: str
    changed: bool = True


def install(version: str) -> Outcome:
    folder = solcx.get_solcx_install_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"solc-v{version}"
    native = shutil.which("solc")
    if native and Path(native).resolve().is_relative_to(Path(sys.prefix).resolve()):
        native = None  # solc-select's shim (slither's dependency), which downloads: not native
    if target.exists() and not is_wrapper(target) and answers_version(target, version):
        return Outcome(f"native solc {version} already installed at {target}", changed=False)
    if native and answers_version(native, version) and "Emscripten" not in _version_of(native):
        target.unlink(missing_ok=True)
        target.symlink_to(native)
        return Outcome(f"native solc {version} from PATH ({native}) linked at {target}")
    if not is_wrapper(target) and try_download(version) and answers_version(target, version):
        return Outcome(f"native solc {version} downloaded by py-solc-x to {target}")
    if is_wrapper(target):
        return Outcome(f"solc-js {version} wrapper already linked at {target}", changed=False)
    target.unlink(missing_ok=True)
    target.symlink_to(WRAPPER)
    if not answers_version(target, version):
        raise SystemExit(f"error: the solc-js wrapper at {target} does not answer; run `npm ci`")
    return Outcome(f"no native solc {version} here: solc-js wrapper linked at {target}")


def _version_of(binary: str) -> str:
    return subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=PROBE_SECONDS
    ).stdout


if __name__ == "__main__":
    # --quiet-if-present (what `make setup` passes): say nothing when nothing had to be done.
    outcome = install(load_compiler_settings(ROOT).solc_version)
    if outcome.changed or "--quiet-if-present" not in sys.argv[1:]:
        print(f"== set-up 3/3: the solc of py-solc-x and brownie: {outcome.message} ==")
