"""Docs that cannot rot: every ```sh block in README.md and docs/ is run, as a reader would.

The convention (docs/README.md, "Docs that cannot rot"):

- A ```sh block is run. Each file's blocks run in order, in one scratch copy of the
  repository (tracked files, with .venv/ and node_modules/ linked), each block as one
  `bash -euo pipefail` script from the repository root, stdin empty, with a time limit.
- An HTML comment on the line right before the block changes how it runs:
  `<!-- docs-test: stack -->` starts two local anvil chains first (`make chains`, stopped
  with `make chains-down` after the file's last block), so `.pvd/chains.env` exists,
  unless an earlier block of the file ran `make chains` itself;
  A block may start processes itself (`make chains`, `make up`, `make relayers`, `pvd up`):
  whatever a file's blocks started and did not stop is stopped after its last block with
  the matching stop command (`make chains-down`, `make down`, ...).
  `<!-- docs-test: background -->` starts a long-running command (a relayer) which must
  still be running a few seconds later, and is stopped after the file's last block;
  `<!-- docs-test: timeout=N -->` allows N seconds (default 300);
  `<!-- docs-test: make-dry-run: REASON -->` for a block of `make` targets that cannot run
  inside the test suite (the suite itself): each target must exist and its recipe expand
  (`make -n`). Options combine with commas. There is no option to skip a block.
- Commands that are not meant to run (a synopsis with placeholders such as `[--json]`,
  `URL`, `<file>`) go in ```text blocks; a ```text or unlabelled block holding a concrete
  command and no placeholder fails, as does ```bash,
  ```shell or ```console (say ```sh).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT = 300
BACKGROUND_GRACE = 5.0
HOW_TO_FIX = (
    "fix the command in the doc (or the code it documents). To run it against two local "
    "chains put `<!-- docs-test: stack -->` on the line before the block; the options are "
    "listed in docs/README.md, 'Docs that cannot rot'"
)
OPTION = re.compile(r"^(stack|background|timeout=\d+|make-dry-run:\s*\S.*)$")
COMMAND_START = re.compile(r"^\s*(\$ |make |pvd |\.venv/bin/|brownie |source |python|npm )")
# Commands that leave processes running, and what stops them (run after a file's last block
# if no block did).
STARTS = {
    "make chains": "make chains-down",
    "make up": "make down",
    "make relayers": "make relayers-down",
    "pvd up": "pvd down",
    "pvd chains up": "pvd chains down",
}
SYNOPSIS = re.compile(r"[\[\]<>|…]|\.\.\.|\b[A-Z][A-Z_]{2,}\b")


@dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository root
    line: int  # line of the opening fence
    number: int  # 1-based among the file's ```sh blocks
    lang: str
    text: str
    options: tuple[str, ...] = field(default=())

    @property
    def where(self) -> str:
        return f"{self.doc}, ```sh block {self.number} (line {self.line})"

    def option(self, prefix: str) -> str | None:
        return next((opt for opt in self.options if opt.startswith(prefix)), None)

    @property
    def timeout(self) -> int:
        given = self.option("timeout=")
        return int(given.split("=", 1)[1]) if given else DEFAULT_TIMEOUT


def docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index, sh_count = 0, 0
    while index < len(lines):
        fence = re.match(r"^(`{3,}|~{3,})\s*([\w+-]*)", lines[index])
        if not fence:
            index += 1
            continue
        end = next(
            (j for j in range(index + 1, len(lines)) if lines[j].startswith(fence.group(1))),
            len(lines),
        )
        lang = fence.group(2).lower()
        previous = next((lines[j] for j in range(index - 1, -1, -1) if lines[j].strip()), "")
        options: tuple[str, ...] = ()
        comment = re.match(r"^\s*<!--\s*docs-test:(.*)-->\s*$", previous)
        if comment:
            body, dry, reason = comment.group(1).partition("make-dry-run:")
            options = tuple(opt.strip() for opt in body.split(",") if opt.strip())
            options += (f"make-dry-run: {reason.strip()}",) if dry else ()
        if lang == "sh":
            sh_count += 1
        found.append(
            Block(
                doc=str(path.relative_to(ROOT)),
                line=index + 1,
                number=sh_count if lang == "sh" else 0,
                lang=lang,
                text="\n".join(lines[index + 1 : end]),
                options=options,
            )
        )
        index = end + 1
    return found


ALL_BLOCKS = {str(path.relative_to(ROOT)): blocks_of(path) for path in docs()}
RUNNABLE = {doc: [b for b in blocks if b.lang == "sh"] for doc, blocks in ALL_BLOCKS.items()}
RUNNABLE = {doc: blocks for doc, blocks in RUNNABLE.items() if blocks}


def test_blocks_say_how_they_run():
    problems = []
    for blocks in ALL_BLOCKS.values():
        for block in blocks:
            at = f"{block.doc}:{block.line}"
            if block.lang in {"bash", "shell", "console", "zsh", "shell-session"}:
                problems.append(f"{at}: ```{block.lang}: write ```sh (it will be run) or ```text")
            if block.options and block.lang != "sh":
                problems.append(f"{at}: a docs-test comment before a ```{block.lang} block")
            for opt in block.options:
                if not OPTION.match(opt):
                    problems.append(
                        f"{at}: unknown docs-test option {opt!r}: use stack, background, "
                        "timeout=N or make-dry-run: REASON (there is no skip)"
                    )
            if block.option("make-dry-run"):
                others = [
                    line
                    for line in block.text.splitlines()
                    if line.strip() and not line.lstrip().startswith(("#", "make "))
                ]
                if others:
                    problems.append(f"{at}: make-dry-run is for `make` lines only: {others[0]}")
            if block.lang in {"", "text"} and not SYNOPSIS.search(block.text):
                for line in block.text.splitlines():
                    if COMMAND_START.match(line):
                        problems.append(
                            f"{at}: {line.strip()!r} is a command in a ```{block.lang} block: "
                            "put it in a ```sh block (it will be run), or write it as a "
                            "synopsis with placeholders"
                        )
                        break
    assert not problems, "\n".join(problems)


def make_scratch(tmp: Path) -> Path:
    """A copy of the repository's files (mtimes kept, so make sees set-up as done) with the
    installed .venv/ and node_modules/ and the compile caches (build/) linked in."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    scratch = tmp / "repo"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = scratch / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    for installed in (".venv", "node_modules"):
        assert (ROOT / installed).exists(), f"{installed}/ is missing: run `make setup` first"
        (scratch / installed).symlink_to(ROOT / installed)
    # Compiled output is a cache keyed by the sources: sharing it spares brownie and pvd a
    # full compile per file (what a reader's own checkout would have after the first run).
    (ROOT / "build").mkdir(exist_ok=True)
    (scratch / "build").symlink_to(ROOT / "build")
    return scratch


def environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{scratch / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(scratch)  # `pvd` runs from the copy: its files land there
    env.pop("VIRTUAL_ENV", None)
    return env


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Runner:
    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.env = environment(scratch)
        self.stack_up = False
        self.started: list[str] = []  # start commands (STARTS) run by blocks, not yet stopped
        self.background: list[tuple[Block, subprocess.Popen[bytes], Path]] = []

    def shell(self, script: str, timeout: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.scratch,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(self, block: Block) -> None:
        if block.option("stack") and not self.stack_up:
            started = self.shell("make chains", 120)
            assert started.returncode == 0, (
                f"{block.where}: could not start the local chains for it (`make chains`):\n"
                f"{tail(started.stdout + started.stderr)}"
            )
            self.stack_up = True
        if block.option("make-dry-run"):
            script = "\n".join(
                line.replace("make ", "make -n ", 1) if line.lstrip().startswith("make ") else line
                for line in block.text.splitlines()
            )
        else:
            script = block.text
        if block.option("background"):
            self.start_background(block, script)
            return
        try:
            done = self.shell(script, block.timeout)
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode() + (exc.stderr or b"").decode()
            pytest.fail(
                f"{block.where} did not finish in {block.timeout} s:\n{block.text}\n"
                f"--- output (tail) ---\n{tail(output)}\n"
                f"Fix: {HOW_TO_FIX}; a long command may take `<!-- docs-test: timeout=N -->`"
            )
        assert done.returncode == 0, (
            f"{block.where} failed (exit {done.returncode}):\n{block.text}\n"
            f"--- output (tail) ---\n{tail(done.stdout + done.stderr)}\nFix: {HOW_TO_FIX}"
        )
        # A block that starts the chains (or a stack, or relayers) itself: later `stack`
        # blocks use them, and whatever is still running after the file's last block is
        # stopped with its own stop command.
        for line in block.text.splitlines():
            command = " ".join(line.split("#")[0].split())
            if command in STARTS:
                self.started.append(command)
                self.stack_up = self.stack_up or command == "make chains"
            for start, stop in STARTS.items():
                if command == stop:
                    if start in self.started:
                        self.started.remove(start)
                    if start == "make chains":
                        self.stack_up = False  # a later `stack` block starts them again

    def start_background(self, block: Block, script: str) -> None:
        log = self.scratch / f".docs-test-background-{block.line}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=self.scratch,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append((block, process, log))
        deadline = time.monotonic() + BACKGROUND_GRACE
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert process.poll() is None, (
            f"{block.where} (a background block) stopped by itself (exit {process.returncode}) "
            f"within {BACKGROUND_GRACE} s:\n{block.text}\n--- output (tail) ---\n"
            f"{tail(log.read_text(errors='replace'))}\nFix: {HOW_TO_FIX}"
        )

    def close(self) -> list[str]:
        problems = []
        for block, process, log in self.background:
            if process.poll() is not None:
                problems.append(
                    f"{block.where} (background) exited early (exit {process.returncode}):\n"
                    f"{tail(log.read_text(errors='replace'))}"
                )
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stops = [STARTS[start] for start in reversed(self.started)]
        if self.stack_up and "make chains-down" not in stops:
            stops.append("make chains-down")
        for stop in stops:
            stopped = self.shell(stop, 60)
            if stopped.returncode != 0:
                problems.append(f"`{stop}` failed:\n{tail(stopped.stdout + stopped.stderr)}")
        return problems


def test_docs_have_runnable_blocks():
    assert "README.md" in RUNNABLE


@pytest.mark.parametrize("doc", sorted(RUNNABLE))
def test_every_sh_block_runs(doc, tmp_path):
    runner = Runner(make_scratch(tmp_path))
    try:
        for block in RUNNABLE[doc]:
            runner.run(block)
    finally:
        problems = runner.close()
    assert not problems, "\n".join(problems)
