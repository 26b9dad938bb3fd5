"""Forgetting: erase a conversation on request, purge what retention no longer
justifies, and re-encrypt everything after a key rotation.

The bulk deletes bypass the session (they run as single statements); objects
already loaded in the same session for the deleted rows must not be used again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Dict

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from jikimi.db.crypto import EncryptedText, sender_hash
from jikimi.db.models import (
    FINISHED_HANDOFF_STATES,
    Base,
    Case,
    EvidenceItem,
    Handoff,
    KakaoContact,
    OutboxMessage,
    SmsContact,
)


def _delete(session: Session, statement) -> int:
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount


def delete_conversation_data(session: Session, sender_id: str) -> Dict[str, int]:
    """Erases what this conversation left in our tables and counts it.

    Cases with their evidence, handoffs, every outbox message about the
    conversation (sent ones too: their bodies hold the student's words,
    relayed to a counsellor), and for SMS the stored phone number (for
    KakaoTalk the bot user key, counted under `sms_contacts`). The
    tracker is Rasa's and the bot's to delete.
    """
    conversation = sender_hash(session, sender_id)
    case_ids = select(Case.id).where(Case.sender_hash == conversation).scalar_subquery()
    counts = {
        "evidence": _delete(
            session, delete(EvidenceItem).where(EvidenceItem.case_id.in_(case_ids))
        ),
        "handoffs": _delete(session, delete(Handoff).where(Handoff.sender_hash == conversation)),
        "outbox": _delete(
            session, delete(OutboxMessage).where(OutboxMessage.sender_hash == conversation)
        ),
        "cases": _delete(session, delete(Case).where(Case.sender_hash == conversation)),
        "sms_contacts": _delete(
            session, delete(SmsContact).where(SmsContact.sender_id == sender_id)
        ),
    }
    # KakaoTalk's bot user key, like an SMS number (counted with them).
    counts["sms_contacts"] += _delete(
        session, delete(KakaoContact).where(KakaoContact.sender_id == sender_id)
    )
    return counts


def purge_older_than(session: Session, days: int, now: datetime) -> Dict[str, int]:
    """Deletes what has been finished for more than `days`, and counts it.

    Closed cases (from `closed_at`) with their evidence; handoffs that ended
    (closed, declined, expired, escalated; from their last transition); sent or
    failed SMS (from creation); SMS numbers and KakaoTalk user keys not heard
    from since. Open cases
    and active handoffs are kept, however old.
    """
    if days < 0:
        raise ValueError("days must not be negative.")
    cutoff = now - timedelta(days=days)
    old_cases = (
        select(Case.id).where(Case.status == "closed", Case.closed_at < cutoff).scalar_subquery()
    )
    ended_at = func.coalesce(
        Handoff.escalated_at, Handoff.closed_at, Handoff.declined_at, Handoff.expired_at
    )
    return {
        "evidence": _delete(
            session, delete(EvidenceItem).where(EvidenceItem.case_id.in_(old_cases))
        ),
        "cases": _delete(session, delete(Case).where(Case.id.in_(old_cases))),
        "handoffs": _delete(
            session,
            delete(Handoff).where(Handoff.state.in_(FINISHED_HANDOFF_STATES), ended_at < cutoff),
        ),
        "outbox": _delete(
            session,
            delete(OutboxMessage).where(
                OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.created_at < cutoff
            ),
        ),
        "sms_contacts": _delete(session, delete(SmsContact).where(SmsContact.last_seen_at < cutoff))
        + _delete(session, delete(KakaoContact).where(KakaoContact.last_seen_at < cutoff)),
    }


def reencrypt_all(session: Session) -> int:
    """Rewrites every encrypted value with the first key of `JIKIMI_SECRET_KEY`,
    after a new key was put in front; returns the number of rows rewritten.
    Loads table by table, which suits this service's volumes."""
    rewritten = 0
    for mapper in Base.registry.mappers:
        keys = [
            mapper.get_property_by_column(column).key
            for column in mapper.local_table.columns
            if isinstance(column.type, EncryptedText)
        ]
        if not keys:
            continue
        for row in session.execute(select(mapper.class_)).scalars():
            present = [key for key in keys if getattr(row, key) is not None]
            for key in present:
                flag_modified(row, key)
            rewritten += bool(present)
        session.flush()
    return rewritten
