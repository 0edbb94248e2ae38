"""The layers import one way: read from every module's imports (function-level ones too), as the frozen-migrations
test reads a migration's. A new import across the rule fails here with the file and the package it reached for."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What each package may import of the project. cli is the front door: only it imports flows (and nothing imports
# cli); flows decorate the run service; the analysts' side reads the published file; load, the one writer of
# DuckDB, knows only the shared records.
ALLOWED: dict[str, set[str]] = {
    "records": set(),
    "extract": {"records"},
    "transform": {"records"},
    "schemas": {"records", "transform"},
    "load": {"records"},
    "service": {"records", "extract", "transform", "schemas", "load"},
    "analyst": {"records", "transform", "load"},
    "flows": {"records", "extract", "transform", "schemas", "load", "service", "analyst"},
    "cli": {"records", "extract", "transform", "schemas", "load", "service", "analyst", "flows", "demo"},
    "demo": {"records", "transform"},
}


def imported_packages(path: Path) -> set[str]:
    """The project's top-level packages a file imports, anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
    return names & set(ALLOWED)


def test_every_package_has_a_rule():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(ALLOWED)


def test_layers_import_only_what_their_rule_allows():
    crossings = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for reached in imported_packages(path) - allowed - {package}:
                crossings.append(f"{path.relative_to(ROOT)} imports {reached}")
    assert not crossings, "\n".join(crossings)


def test_nothing_below_the_cli_imports_it_or_the_flows():
    for package in ALLOWED:
        if package != "cli":
            assert "cli" not in ALLOWED[package]
        if package not in ("cli", "flows"):
            assert "flows" not in ALLOWED[package]
    assert not ALLOWED["load"] & {"extract", "flows", "cli", "analyst"}


def test_the_rule_sees_a_crossing(tmp_path):
    """The reader catches an import inside a function, where the rule is most often broken."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from flows.pipeline import refresh\n    import cli.read\n", encoding="utf-8")
    assert imported_packages(bad) == {"flows", "cli"}


# SQL the project writes once: quoting a value into a statement and reading the catalog live in load/sql.py
# (migrations are frozen copies and keep their own); the command line holds no SQL at all.
QUOTING = ("replace(\"'\", \"''\")", "replace(chr(39)", "replace('\"', '\"\"')")
CATALOG = ("duckdb_tables()", "duckdb_views()", "duckdb_columns()")


def _sources(*packages: str) -> list[Path]:
    return [p for package in packages for p in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in p.parts and p.name != "sql.py"]


def test_quoting_and_the_catalog_are_written_once():
    found = [f"{path.relative_to(ROOT)}: {needle}" for path in _sources(*ALLOWED)
             for needle in (*QUOTING, *CATALOG) if needle in path.read_text(encoding="utf-8")]
    assert not found, "\n".join(found)


def test_the_command_line_holds_no_sql():
    import re
    statement = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|COPY|CREATE|ATTACH)\s+[\w*(\"]")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in _sources("cli")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if statement.search(line)]
    assert not found, "\n".join(found)


def test_no_module_is_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in sorted(ROOT.glob("*/**/*.py"))
            if p.parts[len(ROOT.parts)] in ALLOWED and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400]
    assert not long, "\n".join(long)
