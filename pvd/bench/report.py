"""bench/report.json: one section per kind of figure (gas, relay), each stamped with the
commit and time it was measured at. Sections are merged, never hand-edited."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pvd.paths import PROJECT_ROOT

REPORT = PROJECT_ROOT / "bench" / "report.json"
QUICK_REPORT = PROJECT_ROOT / "bench" / "report-quick.json"  # `make bench-quick`


def write_section(name: str, data: object, report: Path = REPORT) -> Path:
    """Merge one section into the report (other sections are kept)."""
    current = json.loads(report.read_text()) if report.exists() else {}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    ).stdout.strip()
    current[name] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "data": data,
    }
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    return report


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank q-quantile (0 <= q <= 1) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
