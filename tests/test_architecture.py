"""Pure core, thin shells: modules under any `core/` package import no I/O framework.

Domain rules (state machines, allocation, routing, promise dates, pick paths, weight gates,
reconciliation, label layout, envelope encoding) live in `<package>/core/`. This test parses
every such module and fails when it imports Flask, paho, serial, socket, SQL drivers or a
non-core module of this project (which could pull those in).
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "central", "devices", "sync", "labels")
FORBIDDEN = {
    "flask", "werkzeug", "paho", "serial", "socket", "socketserver", "sqlite3", "sqlite_utils",
    "sqlalchemy", "psycopg", "psycopg2", "escpos", "zeroconf", "requests", "http", "urllib",
    "asyncio", "threading", "subprocess", "multiprocessing", "reportlab",
}


def core_modules() -> list[pathlib.Path]:
    found = []
    for pkg in PACKAGES:
        found += [p for p in (ROOT / pkg).rglob("*.py") if "core" in p.relative_to(ROOT).parts[:-1]]
    return sorted(found)


def imported_names(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
    return names


def test_every_package_has_a_pure_core():
    assert core_modules(), "no core modules found"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_is_pure(path):
    problems = []
    for lineno, name in imported_names(path):
        top = name.split(".")[0]
        if top in FORBIDDEN:
            problems.append(f"line {lineno}: imports {name}")
        elif top in PACKAGES and ".core" not in f".{name}" and name not in PACKAGES:
            problems.append(f"line {lineno}: imports non-core project module {name}")
    assert not problems, f"{path.relative_to(ROOT)} must stay pure: " + "; ".join(problems)
