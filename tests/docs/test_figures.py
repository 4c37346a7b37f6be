"""Every measured figure in README.md and docs/ says which run it came from.

The convention (docs/README.md, "Figures"): a section (heading to heading) that states
measured figures carries a marker

    <!-- figures: COMMAND; commit HASH; YYYY-MM-DD -->

(or `commits A..B` for figures from several runs): the command that produced them (a `make`
target or a file in the repository, run as named), the commit of the code it ran on, and
the date of the run. This test checks that each marker names a command that exists, a
commit in the history, a date on or after that commit, and that sections showing measured
figures have a marker. What counts as one: latencies (`ms`, `µs`), throughput
(`messages/s`), and numbers like 42,953 or 1.46 in any section headed Gas, Throughput,
Speed, Latency, Performance or Bench. Limits and targets (`≤ 100 ms`) are not
measurements. Figures a test compares with the code (docs/design.md's numbers) need no
marker.
"""

from __future__ import annotations

import datetime
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!--\s*figures:(.*?)-->")
MARKER_FIELDS = re.compile(
    r"^\s*(?P<command>[^;]+?)\s*;\s*commits?\s+(?P<first>[0-9a-f]{7,40})"
    r"(?:\.\.(?P<last>[0-9a-f]{7,40}))?\s*;\s*(?P<date>\d{4}-\d{2}-\d{2})\s*$"
)
MEASURED = re.compile(r"(?<![≤≥<>~])(?<![≤≥<>] )\b\d[\d,.]*\s?(?:ms|µs|messages/s)\b")
FIGURE = re.compile(r"\d{1,3}(?:,\d{3})+|\d+\.\d+")  # 42,953 gas, 1.46 s: not "batches of 200"
MEASURED_HEADING = re.compile(r"\b(gas|throughput|speed|latency|performance|bench)", re.I)
HELP = (
    "put `<!-- figures: COMMAND; commit HASH; YYYY-MM-DD -->` in the section (the command "
    "that produced the figures, the commit it ran on, the date of the run), or remove the "
    "figures; see docs/README.md, 'Figures'"
)


@dataclass(frozen=True)
class Section:
    doc: str
    line: int
    heading: str
    lines: tuple[tuple[int, str], ...]  # prose lines (outside code fences) with numbers


def sections(path: Path) -> list[Section]:
    found: list[Section] = []
    heading, start, body = "(top)", 1, []
    fence = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        opening = re.match(r"^(`{3,}|~{3,})", line)
        if fence:
            if line.startswith(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        if re.match(r"^#{1,6} ", line):
            found.append(Section(str(path.relative_to(ROOT)), start, heading, tuple(body)))
            heading, start, body = line.lstrip("# ").strip(), number, []
            continue
        body.append((number, line))
    found.append(Section(str(path.relative_to(ROOT)), start, heading, tuple(body)))
    return found


def docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


ALL = [section for path in docs() for section in sections(path)]


def markers(section: Section) -> list[tuple[int, str]]:
    return [(n, m.group(1)) for n, line in section.lines for m in MARKER.finditer(line)]


def test_sections_with_measured_figures_say_where_they_came_from():
    missing = []
    for section in ALL:
        if markers(section):
            continue
        measured = [(n, line) for n, line in section.lines if MEASURED.search(line)]
        heading_says = MEASURED_HEADING.search(section.heading) and any(
            FIGURE.search(line) for _, line in section.lines
        )
        if measured:
            n, line = measured[0]
            missing.append(f"{section.doc}:{n} ({section.heading}): {line.strip()[:100]}")
        elif heading_says:
            missing.append(f"{section.doc}:{section.line} (section '{section.heading}')")
    assert not missing, "figures without their run:\n  " + "\n  ".join(missing) + f"\n{HELP}"


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", text, re.M))


ALL_MARKERS = [(s.doc, n, text) for s in ALL for n, text in markers(s)]


def test_figures_are_marked_somewhere():
    assert ALL_MARKERS, "no figures marker found: the convention's test would be vacuous"


@pytest.mark.parametrize(
    ("doc", "line", "text"), ALL_MARKERS, ids=[f"{d}:{n}" for d, n, _ in ALL_MARKERS]
)
def test_a_figures_marker_names_a_real_command_commit_and_date(doc, line, text):
    where = f"{doc}:{line}: <!-- figures:{text}-->"
    fields = MARKER_FIELDS.match(text)
    assert fields, f"{where} is not 'COMMAND; commit HASH; YYYY-MM-DD': {HELP}"
    command = fields["command"].split()
    if command[0] == "make":
        assert command[1] in make_targets(), f"{where}: no `make {command[1]}` target"
    else:
        words = [word.strip("()[],;'\"`") for word in command]
        paths = [word for word in words if "/" in word or word.endswith(".py")]
        assert paths and all((ROOT / p.split("::")[0]).exists() for p in paths), (
            f"{where}: the command names no file of the repository that exists"
        )
    for ref in filter(None, (fields["first"], fields["last"])):
        committed = git("show", "-s", "--format=%cs", f"{ref}^{{commit}}")
        assert committed, (
            f"{where}: commit {ref} is not in this clone's history (a shallow clone? "
            "`git fetch --unshallow`), or the marker names a wrong commit"
        )
        run = datetime.date.fromisoformat(fields["date"])
        assert run >= datetime.date.fromisoformat(committed), (
            f"{where}: the run's date {run} is before commit {ref} ({committed})"
        )
