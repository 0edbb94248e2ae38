"""What a night tells the operator when it goes wrong: a failed night, a night whose source shrank, and a
data-quality alarm (a core field's fill rate for a template falling by more than a margin since the last good
night — the sign of a site redesign the parser no longer reads). Plain rules, tested without Prefect; flows/
sends each alert as a Prefect event, and to a webhook when one is given (`post_webhook`)."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from records.run import QUALITY_MARGIN

log = logging.getLogger("esf.notify")

# Fields every template writes on nearly every page: one of them emptying out means the parser lost it.
CORE_FIELDS: tuple[str, ...] = ("title", "case_number", "owner", "programme_area_code", "esf_grant_sek",
                                "start_date", "end_date", "region")
WEBHOOK_TIMEOUT = 10.0


@dataclass
class Alert:
    """One thing the operator should hear about. `kind`: failed | shrunk | quality."""
    kind: str
    run_id: int | None
    status: str
    message: str
    db: str
    counts: dict[str, int] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event(self) -> str:
        """The Prefect event name an automation matches: esf.night.failed, esf.night.shrunk, esf.night.quality."""
        return f"esf.night.{self.kind}"

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.event, **asdict(self)}


def failure_alert(db: str, run_id: int | None, error: BaseException, shrank: bool) -> Alert:
    """A night that failed (its source shrank, when `shrank`); nothing was published."""
    return Alert("shrunk" if shrank else "failed", run_id, "failed", f"{type(error).__name__}: {error}"[:2000], db)


def quality_alarms(quality: Any, margin: float = QUALITY_MARGIN, fields: tuple[str, ...] = CORE_FIELDS) -> list[dict[str, Any]]:
    """The core fields whose fill rate for a template and period fell by more than `margin` points since the
    previous good night. `quality`: load.quality.Quality (its `fill` rows: template, period, field, projects,
    filled %, previous filled %)."""
    if quality is None or quality.previous_run_id is None:
        return []
    return [{"template": template, "period": period, "field": name, "projects": projects,
             "filled_pct": filled, "previous_pct": previous}
            for template, period, name, projects, filled, previous in quality.fill
            if name in fields and previous is not None and previous - filled > margin]


def night_alerts(report: Any, db: str, margin: float = QUALITY_MARGIN) -> list[Alert]:
    """The alerts of a night that finished (service.run.RunReport): its quality alarm, if any."""
    alarms = quality_alarms(report.quality, margin)
    if not alarms:
        return []
    worst = max(alarms, key=lambda a: a["previous_pct"] - a["filled_pct"])
    message = (f"{len(alarms)} core field fill rate(s) fell by more than {margin:g} points; worst: "
               f"{worst['field']} of template {worst['template']} {worst['previous_pct']} % → {worst['filled_pct']} %")
    return [Alert("quality", report.run_id, report.status, message, db, report.counts.as_dict(), alarms)]


def post_webhook(url: str, alert: Alert, timeout: float = WEBHOOK_TIMEOUT) -> bool:
    """POST the alert as JSON to `url`; → whether it was taken (2xx). A webhook that fails is a warning in the
    night's log, never a failed night."""
    try:
        response = requests.post(url, json=alert.as_dict(), timeout=timeout)
    except requests.RequestException as exc:
        log.warning("could not send the %s alert to %s: %s", alert.event, url, exc)
        return False
    if not response.ok:
        log.warning("the webhook %s answered %d to the %s alert", url, response.status_code, alert.event)
    return response.ok
