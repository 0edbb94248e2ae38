"""A night's alerts (service/notify.py decides them) reach the operator: as Prefect events, which an automation
on the Prefect server can match (README, *Scheduling*), and as a JSON POST to `--notify URL` when given."""
from __future__ import annotations

import logging

from service.notify import Alert, post_webhook

log = logging.getLogger("esf.notify")


def send(alerts: list[Alert], notify_url: str | None = None) -> None:
    for alert in alerts:
        log.warning("alert %s: run %s: %s", alert.event, alert.run_id, alert.message)
        emit(alert)
        if notify_url:
            post_webhook(notify_url, alert)


def emit(alert: Alert) -> None:
    """The alert as a Prefect event `esf.night.<kind>` about the resource `esf.warehouse.<db path>`."""
    from prefect.events import emit_event
    try:
        emit_event(event=alert.event,
                   resource={"prefect.resource.id": f"esf.warehouse.{alert.db}",
                             "prefect.resource.name": alert.db, "esf.status": alert.status},
                   payload=alert.as_dict())
    except Exception as exc:  # an event that cannot be sent must not fail the night
        log.warning("could not emit the Prefect event %s: %s", alert.event, exc)
