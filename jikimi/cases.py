"""Reports and their evidence, as the conversation needs them.

The action server calls these (in a thread: they block). Each function is one
transaction, committed before it returns: a student is told "saved" only after
the row is on disk, and a database error reaches the caller as an exception,
so the bot can say plainly that nothing was saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from jikimi.db import Case, EvidenceItem, delete_conversation_data, sender_hash, session_scope
from jikimi.db.models import PERPETRATOR_RELATIONS, utcnow
from jikimi.settings import Settings


@dataclass(frozen=True)
class Report:
    """What the report form gathered; None where the student skipped."""

    anonymous: Optional[bool] = None
    minor: Optional[bool] = None
    platform: Optional[str] = None
    when_happened: Optional[str] = None
    still_online: Optional[bool] = None
    perpetrator_relation: Optional[str] = None
    urls: List[str] = field(default_factory=list)
    description: Optional[str] = None

    def risk_level(self) -> str:
        """High when a minor's material is still out there or someone known keeps
        spreading it; low when it is gone and nothing points to more; else medium."""
        if self.still_online and (self.minor or self.perpetrator_relation == "classmate"):
            return "high"
        if self.still_online is False and self.perpetrator_relation in (None, "unknown"):
            return "low"
        return "medium"


@dataclass(frozen=True)
class CaseView:
    """A case as the conversation may show it back to its own student."""

    code: str
    created_at: datetime
    platform: Optional[str]
    minor: Optional[bool]
    anonymous: Optional[bool]
    when_happened: Optional[str]
    still_online: Optional[bool]
    urls: List[str]
    evidence_count: int


def _latest_open(session: Session, sender_id: str) -> Optional[Case]:
    return session.execute(
        select(Case)
        .where(Case.sender_hash == sender_hash(session, sender_id), Case.status == "open")
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _view(case: Case) -> CaseView:
    return CaseView(
        code=case.code,
        created_at=case.created_at,
        platform=case.platform,
        minor=case.minor,
        anonymous=case.anonymous,
        when_happened=case.when_happened,
        still_online=case.still_online,
        urls=list(case.urls or []),
        evidence_count=len(case.evidence),
    )


def save_report(settings: Settings, sender_id: str, channel: str, report: Report) -> str:
    """Stores the report as a new case (or completes the open case that evidence
    already started) and returns its code once committed."""
    if report.perpetrator_relation not in (None, *PERPETRATOR_RELATIONS):
        raise ValueError(f"unknown relation {report.perpetrator_relation!r}")
    with session_scope(settings) as session:
        case = _latest_open(session, sender_id)
        # A case opened by evidence alone has no report yet (urls is None until
        # a report sets a list, empty or not): the report completes it.
        if case is None or case.urls is not None:
            case = Case(channel=channel, sender_hash=sender_hash(session, sender_id))
            session.add(case)
        case.anonymous = report.anonymous
        case.minor = report.minor
        case.platform = report.platform
        case.when_happened = report.when_happened
        case.still_online = report.still_online
        case.perpetrator_relation = report.perpetrator_relation
        case.urls = list(report.urls)
        case.description = report.description
        case.risk_level = report.risk_level()
        session.flush()
        return case.code


def latest_case(settings: Settings, sender_id: str) -> Optional[CaseView]:
    """The student's most recent open case, if any."""
    with session_scope(settings) as session:
        case = _latest_open(session, sender_id)
        return None if case is None else _view(case)


# A file's size and capture time as the widget reports them, within reason: a
# capture time in the year 9999 made the case's evidence log fail for good.
MAX_FILE_BYTES = 2**40
EARLIEST_CAPTURE = datetime(1990, 1, 1, tzinfo=timezone.utc)
CLOCK_SKEW = timedelta(days=1)


def plausible_capture_time(moment: Optional[datetime]) -> Optional[datetime]:
    """`moment` when it is an aware time between 1990 and tomorrow, else None."""
    if moment is None or moment.tzinfo is None:
        return None
    if not EARLIEST_CAPTURE <= moment <= utcnow() + CLOCK_SKEW:
        return None
    return moment


def add_evidence(
    settings: Settings,
    sender_id: str,
    channel: str,
    *,
    sha256: str,
    name: Optional[str],
    captured_at: Optional[datetime],
    note: Optional[str] = None,
) -> CaseView:
    """Adds a file's hash to the student's open case, opening one when there is
    none yet (evidence often comes before the report). The file never comes."""
    with session_scope(settings) as session:
        case = _latest_open(session, sender_id)
        if case is None:
            case = Case(channel=channel, sender_hash=sender_hash(session, sender_id))
            session.add(case)
        case.evidence.append(
            EvidenceItem(
                kind="screenshot",
                sha256=sha256,
                name=name,
                captured_at=plausible_capture_time(captured_at),
                description=note,
            )
        )
        case.updated_at = utcnow()
        session.flush()
        return _view(case)


def delete_conversation(settings: Settings, sender_id: str) -> Dict[str, int]:
    """Erases the conversation's cases, evidence, handoffs and queued messages."""
    with session_scope(settings) as session:
        return delete_conversation_data(session, sender_id)
