"""Imported at start-up of every Python process of the project's venv, by the file
`pvd_brownie.pth` that `make setup` writes into the venv's site-packages
(tools/brownie_hook.py). It only registers an import hook: when a process imports
brownie, pvd_brownie.loader.install() runs right after brownie's own package has loaded,
before brownie loads the project or connects to a network. Processes that never import
brownie (the relayer, the CLI, plain pytest) pay one list lookup per import.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any


class _AfterBrownie(importlib.abc.MetaPathFinder):
    """Finds brownie like the default finder does, and runs the loader fixes once its
    package module has executed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "brownie":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            from pvd_brownie import loader as pvd_loader

            pvd_loader.install()

        loader.exec_module = exec_module
        return spec


def register() -> None:
    if "brownie" in sys.modules:
        return  # imported before us (cannot happen from a .pth file): nothing to hook
    if not any(isinstance(finder, _AfterBrownie) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterBrownie())


register()
