"""The planner reads nothing and writes nothing: checked on the source, by AST."""

from __future__ import annotations

import ast
from pathlib import Path

import syncd.planner

FORBIDDEN_MODULES = {
    "os",
    "io",
    "time",
    "logging",
    "sqlalchemy",
    "httpx",
    "watchdog",
    "pathlib",
    "socket",
    "subprocess",
    "shutil",
    "tempfile",
    "random",
    "threading",
    "asyncio",
    "datetime",
    "sqlite3",
    "glob",
    "uuid",
    "secrets",
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__", "breakpoint"}
FORBIDDEN_ATTRS = {"now", "utcnow", "today", "time_ns", "perf_counter", "monotonic"}

PLANNER = Path(syncd.planner.__file__).parent
SOURCES = sorted(PLANNER.glob("*.py"))


def _violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(node.module)
            if (
                node.module
                and node.module.startswith("syncd.")
                and not (
                    node.module.startswith("syncd.planner")
                    or node.module in ("syncd.paths", "syncd.errors", "syncd.scope")
                )
            ):
                found.append(node.module)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_CALLS:
                found.append(node.func.id + "()")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FORBIDDEN_ATTRS  # clock.now(), date.today() ...
        ):
            found.append("." + node.func.attr + "()")
    return found


def test_planner_sources_are_found():
    names = {p.name for p in SOURCES}
    assert {"plan.py", "rules.py", "moves.py", "names.py", "guards.py"} <= names


def test_planner_imports_no_io_clock_or_logging():
    bad = {p.name: v for p in SOURCES if (v := _violations(p.read_text()))}
    assert bad == {}


def test_the_check_itself_catches_each_kind_of_impurity():
    assert _violations("import os") == ["os"]
    assert _violations("from datetime import datetime") == ["datetime"]
    assert _violations("import logging.handlers") == ["logging.handlers"]
    assert _violations("from pathlib import Path") == ["pathlib"]
    assert _violations("open('x')") == ["open()"]
    assert _violations("x = clock.now()") == [".now()"]
    assert _violations("x = policy.now") == []
    assert _violations("from syncd.state import store") == ["syncd.state"]
    assert _violations("from syncd.paths import parent") == []
