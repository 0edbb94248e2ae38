"""One error type: every error the `esf` command reports is an EsfError, and the CLI maps it to its line and exit
code in one place (cli/__init__.py), the same for the console entry point and for click's test runner."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

import cli
from records.errors import EXIT_FAILED, EXIT_USAGE, EsfError, RunFailed, UsageError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("records", "extract", "transform", "schemas", "load", "service", "flows", "cli", "analyst", "demo")
# Exceptions that never reach the user as such: a parser's note about one value, a bug, a signal.
INTERNAL = {"ValueProblem", "NotDecodable", "DuplicateKeys", "Interrupted", "Reported", "_Failure", "_Unreadable",
            "NotATable", "TableDamaged"}  # the last two become NotAList in transform/lists.py


def exception_classes() -> dict[str, str]:
    """Every class in the project whose bases name an exception, → the file it is declared in."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and any(
                        (getattr(b, "id", None) or getattr(b, "attr", "")).endswith(("Error", "Exception", "Interrupt",
                                                                                   "Failed", "Requests", "Busy"))
                        for b in node.bases):
                    found[node.name] = str(path.relative_to(ROOT))
    return found


def test_every_error_a_user_can_meet_is_an_esf_error():
    import importlib
    strays = []
    for name, path in exception_classes().items():
        if name in INTERNAL:
            continue
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        if not issubclass(getattr(module, name), EsfError):
            strays.append(f"{path}: {name}")
    assert not strays, "not EsfErrors: " + ", ".join(strays)


def test_the_command_maps_an_esf_error_to_its_line_and_exit_code(monkeypatch):
    @click.command(name="boom")
    @click.argument("kind")
    def boom(kind: str) -> None:
        raise {"usage": UsageError, "failed": RunFailed}[kind]("it went wrong")

    monkeypatch.setitem(cli.cli.commands, "boom", boom)
    usage = CliRunner().invoke(cli.cli, ["boom", "usage"])
    failed = CliRunner().invoke(cli.cli, ["boom", "failed"])
    assert (usage.exit_code, failed.exit_code) == (EXIT_USAGE, EXIT_FAILED)
    assert "it went wrong" in usage.output and "Traceback" not in usage.output


def test_a_consequence_is_said_after_the_message():
    from service.run import SourceShrank
    assert SourceShrank("the source found no project pages").line() == \
        "the source found no project pages; nothing new published"
    assert UsageError("no such file").line() == "no such file"


def test_the_console_entry_point_prints_one_line_for_an_esf_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cli", "search", "ungdom", "--db", str(tmp_path / "none.duckdb")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == EXIT_USAGE
    assert out.stderr.startswith("esf: ") and len(out.stderr.strip().splitlines()) == 1, out.stderr
