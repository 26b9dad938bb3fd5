"""Retention: `jikimi purge --older-than DAYS` forgets what is past its time.

Two stores hold what students leave behind:
- our tables (jikimi.db): closed cases with their evidence, ended handoffs,
  sent or failed SMS, SMS numbers not heard from (`purge_older_than`);
- Rasa's SQL tracker store (JIKIMI_TRACKER_STORE_URL, table `events`): every
  conversation whose last event is older than the cutoff is deleted whole, by
  the tracker store's own `purge_trackers` (its table, its engine: on SQLite
  the deleted rows are zeroed in the file).

The default retention, JIKIMI_RETENTION_DAYS, is 90 days. Run it daily (cron,
a systemd timer, a Kubernetes CronJob); it is safe to run twice.

Nothing else closes a case (a student rarely says "I'm done"), and open cases
are never purged. So a case with no activity for JIKIMI_CASE_CLOSE_DAYS (30)
is closed (`close_inactive_cases`): activity is the case's own last change
(the report saved, evidence added) or a handoff about it; a case with a live
handoff stays open. The desk closes such cases every hour and `jikimi purge`
does it first; from its closing the retention period runs. So by default a case
nobody touches is gone 120 days after its last activity. 0 days: never
closed automatically.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Dict, Optional

from sqlalchemy import delete, exists, func, select, update

from jikimi.db import (
    ACTIVE_HANDOFF_STATES,
    Case,
    Handoff,
    InboundSms,
    purge_older_than,
    session_scope,
)
from jikimi.settings import Settings

logger = logging.getLogger(__name__)


def close_inactive_cases(settings: Settings, now: Optional[datetime] = None) -> int:
    """Closes open cases without activity for `settings.case_close_days` (module
    doc); returns how many. Their retention period starts now."""
    if not settings.case_close_days:
        return 0
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=settings.case_close_days)
    last_handoff = (
        select(func.max(Handoff.requested_at)).where(Handoff.case_id == Case.id).scalar_subquery()
    )
    live_handoff = exists().where(
        Handoff.case_id == Case.id, Handoff.state.in_(ACTIVE_HANDOFF_STATES)
    )
    with session_scope(settings) as session:
        result = session.execute(
            update(Case)
            .where(
                Case.status == "open",
                Case.updated_at < cutoff,
                func.coalesce(last_handoff, Case.updated_at) < cutoff,
                ~live_handoff,
            )
            .values(status="closed", closed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        closed = result.rowcount
    if closed:
        logger.info("closed %s cases inactive for %s days", closed, settings.case_close_days)
    return closed


def purge(settings: Settings, days: int, now: Optional[datetime] = None) -> Dict[str, int]:
    """Closes inactive cases, then deletes everything past `days`, counted by
    kind (closed_cases, cases, evidence, ..., tracker_events)."""
    if days < 0:
        raise ValueError("days must not be negative.")
    now = now or datetime.now(timezone.utc)
    closed = close_inactive_cases(settings, now)
    with session_scope(settings) as session:
        counts = {"closed_cases": closed, **purge_older_than(session, days, now)}
        # The MessageSids of inbound SMS acted on (duplicates and replays).
        counts["inbound_sms"] = session.execute(
            delete(InboundSms)
            .where(InboundSms.received_at < now - timedelta(days=days))
            .execution_options(synchronize_session=False)
        ).rowcount
    # Imported here: it loads Rasa, which the desk (close_inactive_cases) does not need.
    from bot.tracker_store import purge_trackers

    counts["tracker_events"] = purge_trackers(
        settings.tracker_store_url, now - timedelta(days=days)
    )
    return counts
