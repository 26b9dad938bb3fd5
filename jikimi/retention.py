"""Retention: `jikimi purge --older-than DAYS` forgets what is past its time.

Two stores hold what students leave behind:
- our tables (jikimi.db): closed cases with their evidence, ended handoffs,
  sent or failed SMS, SMS numbers not heard from (`purge_older_than`);
- Rasa's SQL tracker store (JIKIMI_TRACKER_STORE_URL, table `events`): every
  conversation whose last event is older than the cutoff is deleted whole.
  Deleting only a conversation's old events would leave a tracker that starts
  in the middle (no session start, slots set by events that are gone); a
  conversation still in use keeps all its events. Only the columns Rasa's
  SQLTrackerStore defines are used (sender_id, timestamp as Unix seconds), so
  a subclass that encrypts `data` is purged the same way.

The default retention, JIKIMI_RETENTION_DAYS, is 90 days. Run it daily (cron,
a systemd timer, a Kubernetes CronJob); it is safe to run twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Dict, Optional

from sqlalchemy import inspect, text

from jikimi.settings import Settings

TRACKER_TABLE = "events"


def purge_trackers(tracker_store_url: str, cutoff: datetime) -> int:
    """Deletes every conversation in Rasa's tracker store whose last event is
    older than `cutoff`; returns the number of event rows deleted."""
    from jikimi.db.session import create_plain_engine

    engine = create_plain_engine(tracker_store_url)
    try:
        if not inspect(engine).has_table(TRACKER_TABLE):
            return 0  # Rasa has not run against this database yet
        with engine.begin() as connection:
            result = connection.execute(
                text(
                    f"DELETE FROM {TRACKER_TABLE} WHERE sender_id IN ("
                    f"SELECT sender_id FROM {TRACKER_TABLE} "
                    "GROUP BY sender_id HAVING MAX(\"timestamp\") < :cutoff)"
                ),
                {"cutoff": cutoff.timestamp()},
            )
            return result.rowcount
    finally:
        engine.dispose()


def purge(settings: Settings, days: int, now: Optional[datetime] = None) -> Dict[str, int]:
    """Everything past `days`, counted by kind (cases, evidence, ..., tracker_events)."""
    from jikimi.db import purge_older_than, session_scope

    if days < 0:
        raise ValueError("days must not be negative.")
    now = now or datetime.now(timezone.utc)
    with session_scope(settings) as session:
        counts = purge_older_than(session, days, now)
    counts["tracker_events"] = purge_trackers(
        settings.tracker_store_url, now - timedelta(days=days)
    )
    return counts
