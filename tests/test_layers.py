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
