"""Write `pvd_brownie.pth` into the project venv's site-packages: every Python process of
the venv then imports pvd_brownie.boot at start-up, which fixes how brownie loads the
project once brownie is imported (pvd_brownie/loader.py). Safe to repeat; touches
nothing outside the venv.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

LINE = "import pvd_brownie.boot\n"


def main() -> None:
    path = Path(sysconfig.get_paths()["purelib"]) / "pvd_brownie.pth"
    if not path.exists() or path.read_text() != LINE:
        path.write_text(LINE)


if __name__ == "__main__":
    main()
