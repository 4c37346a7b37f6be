"""The repository stands on its own: no tracked file points outside it.

A reader has only the repository. So no tracked file (code, docs, NatSpec, docstrings,
messages, configs) may send them to a sibling folder of design notes, to the design brief or
test plan that the project was started from, or to an issue tracker entry by number. The
project's own design is docs/design.md, its trust model docs/security.md; the invariant ids
(C1-C7, X1-X3, L1, L2, R1-R3) are the project's own and stay.

What counts as an issue number (the patterns below; the tests at the end list what they must
and must not match): the word "issue" or "issues" followed by a number, with or without a
hash sign, and a hash sign directly followed by a number in prose. Not an issue number: hex,
colours, Markdown headings, shell's "$#", URL fragments, "issues 5,000 yuan". The examples
are spelled in pieces ("issue" + " 12") so that this file passes its own test.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Spelled in pieces so that this file does not match itself.
_SHARED = re.escape("../" + "shared")
_ABS_SHARED = re.escape("/work/" + "shared")
_DESIGN = "DESIGN" + r"(?:\.md\b|\s*§)"
_PLAN = r"\bTEST" + r"PLAN\b"
OUTSIDE_REFERENCE = re.compile(rf"{_SHARED}|{_ABS_SHARED}|\b{_DESIGN}|{_PLAN}")

# The word with a number (any case); not a verb with an amount ("issues 5,000 yuan").
ISSUE_WORD = re.compile(r"\bissues?\s+#?\d+\b(?![,.]\d)", re.IGNORECASE)
# A hash and a number in prose: not after a word character, '&', '#', '/', '$', '{', a quote,
# '=', ':' or '%' (markup, shell, colours), nor followed by a word character (hex-ish strings).
HASH_NUMBER = re.compile(r"(?<![\w&#/$\{\"'=:%])#\d+(?!\w)")
# Files where "#<digits>" is markup or data (colours, anchors), not prose: only the word form.
NO_HASH_RULE = {".json", ".css", ".html", ".svg", ".js", ".lock", ".yaml", ".yml"}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot list the repository's files with git ({exc}): run from a clone")
    return [ROOT / name for name in out.decode().split("\0") if name]


def offending_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
        return []  # binary files, submodules, files deleted but not yet staged
    hash_rule = path.suffix not in NO_HASH_RULE and path.name != "package-lock.json"
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        hits = OUTSIDE_REFERENCE.findall(line) + ISSUE_WORD.findall(line)
        if hash_rule and not line.lstrip().startswith("#!"):
            hits += HASH_NUMBER.findall(line)
        if hits:
            shown = line.strip()
            shown = shown if len(shown) <= 140 else shown[:137] + "..."
            found.append(f"{path.relative_to(ROOT)}:{number}: {', '.join(hits)!s}: {shown}")
    return found


def test_no_tracked_file_points_outside_the_repository():
    found = [hit for path in tracked_files() for hit in offending_lines(path)]
    assert not found, (
        "these lines point outside the repository; say it in the project's own words and "
        "link docs/design.md (design, timing rule, invariants) or docs/security.md (trust "
        "model, residual risks) instead:\n  " + "\n  ".join(found)
    )


ISSUE, HASH = "issue", "#"


@pytest.mark.parametrize(
    "text",
    [
        "see " + ISSUE + " 12",
        "Issue" + " 6, item 8.",
        "(" + ISSUE + " " + HASH + "12)",
        ISSUE + "s 3 and 4",
        "fixed in " + HASH + "12.",
        "see " + HASH + "7",
        "(" + HASH + "13)",
    ],
)
def test_an_issue_number_in_prose_is_found(text):
    assert ISSUE_WORD.search(text) or HASH_NUMBER.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "0x12ab34",
        'color: "#508642"',
        "color: #fff;",
        "fill=#1e90ff",
        "## 3. The settlement",
        "### 12 steps",
        'echo "$#"',
        "docs/design.md" + HASH + "12-invariants",
        "${#items[@]}",
        "an issuer 12 banks",
        "t" + ISSUE + " 12",
        "the admin " + ISSUE + "s 5,000 yuan to the buyer",
        "C1, X2, R3",
    ],
)
def test_other_hashes_and_numbers_are_not_issue_numbers(text):
    assert not ISSUE_WORD.search(text) and not HASH_NUMBER.search(text)


@pytest.mark.parametrize(
    "text",
    ["../" + "shared/x.md", "DESIGN" + ".md §4", "DESIGN" + " §3", "TEST" + "PLAN's faults"],
)
def test_references_to_the_briefs_are_found(text):
    assert OUTSIDE_REFERENCE.search(text)


def test_the_project_design_page_is_not_flagged():
    assert not OUTSIDE_REFERENCE.search("docs/design.md, the design of pvd (DESIGN_NOTES)")
