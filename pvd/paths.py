"""Where the project's own files are: the repository root that holds contracts/, node_modules/,
deployments/ and .pvd/."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
