"""`esf describe --format markdown|html`: the data dictionary as a page to publish beside the report — every
table and view, its comment and row count, its columns with type and comment, and one example row."""
from __future__ import annotations

import html
from typing import Any

import duckdb

from load.sql import columns, identifier, relations, scalar

PERSONAL = {"contact_name", "contact_email", "contact_phone"}  # never shown as an example
EXAMPLE_WIDTH = 80


def objects(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every table and view of the main schema: name, kind, comment, row count, columns, one example row."""
    out = []
    for relation in relations(con):
        name = relation.name
        rows = scalar(con, f"SELECT count(*) FROM {identifier(name)}")
        example = con.execute(f"SELECT * FROM {identifier(name)} LIMIT 1").fetchone()
        out.append({"name": name, "kind": relation.kind, "comment": relation.comment or "", "rows": rows, "columns": [
            {"name": c, "type": t, "comment": d or "", "example": _example(c, example[i] if example else None, example)}
            for i, (c, t, d) in enumerate(columns(con, name))]})
    return out


def _example(column: str, value: Any, row: Any) -> str:
    if row is None:
        return ""
    if column in PERSONAL and value is not None:
        return "(personal data, not shown)"
    if isinstance(value, (bytes, bytearray)):
        return f"({len(value):,} bytes)"
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= EXAMPLE_WIDTH else text[:EXAMPLE_WIDTH - 1] + "…"


def markdown(items: list[dict[str, Any]], title: str) -> str:
    lines = [f"# {title}", "", "Every table and view of the published database, with one example row.", ""]
    lines += [f"- [{o['name']}](#{o['name']}) ({o['kind']}, {o['rows']:,} rows)" for o in items]
    for o in items:
        lines += ["", f"## {o['name']}", "", f"*{o['kind']}, {o['rows']:,} rows.* {_md(o['comment'])}", "",
                  "| column | type | description | example |", "|---|---|---|---|"]
        lines += [f"| `{c['name']}` | {c['type']} | {_md(c['comment'])} | {_md(c['example'])} |" for c in o["columns"]]
    return "\n".join(lines) + "\n"


def page(items: list[dict[str, Any]], title: str) -> str:
    e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
    toc = "".join(f'<li><a href="#{e(o["name"])}">{e(o["name"])}</a> ({o["kind"]}, {o["rows"]:,} rows)</li>' for o in items)
    parts = []
    for o in items:
        rows = "".join(f"<tr><td><code>{e(c['name'])}</code></td><td>{e(c['type'])}</td><td>{e(c['comment'])}</td>"
                       f"<td>{e(c['example'])}</td></tr>" for c in o["columns"])
        parts.append(f'<section id="{e(o["name"])}"><h2>{e(o["name"])}</h2><p><em>{o["kind"]}, {o["rows"]:,} rows.</em> '
                     f'{e(o["comment"])}</p><table><thead><tr><th>column</th><th>type</th><th>description</th>'
                     f'<th>example</th></tr></thead><tbody>{rows}</tbody></table></section>')
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:0 1em}table{border-collapse:"
             "collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title><style>{style}'
            f'</style></head><body><h1>{e(title)}</h1><p>Every table and view of the published database, with one '
            f'example row.</p><ul>{toc}</ul>{"".join(parts)}</body></html>\n')


def _md(text: str) -> str:
    """Table-cell text for Markdown: one line, no pipes, markup characters escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>|#!~&" else ch for ch in " ".join(str(text).split()))
