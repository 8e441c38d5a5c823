"""Lazy package exports: ``import iqa_x`` stays cheap (no torch) and names load on first access.

Each package keeps a table ``public name -> submodule`` and defines::

    def __getattr__(name):
        return lazy.resolve(__name__, _LAZY, name, globals())

Importing this module imports nothing heavy.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from types import ModuleType
from typing import Any


def resolve(package: str, exports: Mapping[str, str], name: str, namespace: MutableMapping[str, Any]) -> Any:
    """The public ``name`` of ``package``: import its submodule and bind every export of that submodule."""
    where = exports.get(name)
    if where is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    module = importlib.import_module(f".{where}", package)
    for other, source in exports.items():
        if source == where:
            namespace[other] = getattr(module, other)
    return namespace[name]


def keep_exports_over_submodules(package: str, names: Iterable[str]) -> None:
    """Importing a submodule that shares its name with an export (``iqa_core.defended``, the module
    and the function) must not replace the export on the package: Python binds submodules as
    package attributes when they are imported."""
    shadowed = frozenset(names)

    class _Package(ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if isinstance(value, ModuleType) and name in shadowed:
                return
            super().__setattr__(name, value)

    sys.modules[package].__class__ = _Package
