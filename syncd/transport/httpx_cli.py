"""Keep ``import httpx`` from loading httpx's own command line, which syncd never runs.

``httpx/__init__`` imports ``httpx._main`` (its ``httpx`` CLI: click, rich, pygments)
whenever those are installed, and they are installed beside syncd; that is about half of
what ``import httpx`` costs, paid by every ``syncd sync``. ``keep_out`` puts a placeholder
module in its place before httpx is first imported. The placeholder's ``main`` loads the
real module and runs it, so ``httpx.main`` still works for anyone who calls it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["keep_out"]

NAME = "httpx._main"


def _real_main(*args: Any, **kwargs: Any) -> Any:
    if getattr(sys.modules.get(NAME), "placeholder", False):
        del sys.modules[NAME]
    return importlib.import_module(NAME).main(*args, **kwargs)


def keep_out() -> None:
    """Before the first ``import httpx``: stand in for ``httpx._main``; later, nothing."""
    if "httpx" in sys.modules or NAME in sys.modules:
        return
    placeholder = types.ModuleType(NAME, "httpx's command line, loaded when it is run")
    placeholder.main = _real_main  # type: ignore[attr-defined]
    placeholder.placeholder = True  # type: ignore[attr-defined]
    sys.modules[NAME] = placeholder
