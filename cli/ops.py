"""`esf status`: what an operator asks first — how did the last night go, when did one last succeed, how old
is the published data, when is the next night."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from cli.options import EXIT_FAILED, EXIT_OK, EsfError, UsageError, db_option


@click.command()
@db_option
@click.option("--name", default=None, metavar="NAME",
              help="The deployment to ask Prefect about (esf-refresh/NAME). Default: as `esf serve --db` names it.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(db: str, name: str | None, fmt: str) -> None:
    """How the nights went: the last attempt (failed and interrupted ones included) with its message, the last
    success, the age of the published data, and the next scheduled night (asked of the Prefect API at
    $PREFECT_API_URL, or of the local server a live `esf serve` of this database started; "unknown" without).

    Exit codes: 0 the last night published, 1 it did not (or nothing was ever published).

    \b
    Examples:
      esf status --db /srv/esf/esf.duckdb
      esf status --format json | jq .last_attempt.status
    """
    import duckdb
    from analyst.status import read_status, status_text
    if not Path(db).is_file():
        raise UsageError(f"no database at {db}: nothing published yet (run `esf run`, or pass --db)")
    try:
        found = read_status(db)
    except duckdb.Error as exc:
        raise EsfError(f"cannot read the runs of {db}: {str(exc).splitlines()[0]}") from None
    found.next_night, found.next_night_note = _next_night(db, name)
    click.echo(json.dumps(found.as_dict(), indent=2, default=str) if fmt == "json" else status_text(found))
    sys.exit(EXIT_OK if found.healthy else EXIT_FAILED)


def _next_night(db: str, name: str | None) -> tuple[str | None, str]:
    """The next scheduled night of the deployment, from the Prefect API that knows it, or why it is unknown."""
    from flows.schedule import deployment_name_for, next_night, serving_of
    from flows.server import healthy
    api = os.environ.get("PREFECT_API_URL")
    serving = serving_of(db)
    if serving:
        api = api or serving["api_url"]
        name = name or serving["deployment"].split("/", 1)[1]
    if not api:
        return None, "no Prefect API: PREFECT_API_URL is unset and no esf serve of this database is running"
    if not healthy(api):
        return None, f"the Prefect API at {api} does not answer"
    from prefect.settings import PREFECT_API_URL, temporary_settings
    with temporary_settings(updates={PREFECT_API_URL: api}):
        try:
            return next_night(name or deployment_name_for(db))
        except Exception as exc:  # the API answered health but not this: say so, never a traceback
            return None, f"the Prefect API at {api} could not say: {type(exc).__name__}: {exc}"
