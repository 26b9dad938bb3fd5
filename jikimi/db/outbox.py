"""The SMS outbox: queue in the caller's transaction, claim, mark the result.

A dispatcher round is short transactions, never one held open across a call
to Twilio:

    with session_scope(settings) as session:
        batch = claim_due(session, 10, now)   # recipient and body are read here
    for message in batch:
        ... send it ...
        with session_scope(settings) as session:
            mark_sent(session, message.id, sid, now)   # or mark_failed(...)

Claiming sets `status="sending"` and pushes `next_attempt_at` out by a lease.
A dispatcher that dies mid-round leaves its rows `sending`; once the lease
has run out they are due again, and the dispatcher that claims one asks Twilio
whether it went out before sending it (jikimi/dispatcher.py): Twilio's Messages
API has no idempotency key, so that look-up is what keeps a crash, or a
database that failed before the outcome was recorded, from sending twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jikimi.db.crypto import keyring_for, sender_hash
from jikimi.db.models import OutboxMessage
from jikimi.db.phone import normalise_phone

# Longer than any one send may take (the Twilio client's timeout), or a slow
# send would be claimed again by another dispatcher and go out twice.
DEFAULT_LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)


def enqueue(
    session: Session,
    recipient: str,
    body: str,
    now: datetime,
    sender_id: Optional[str] = None,
    channel: str = "sms",
) -> OutboxMessage:
    """Queues an SMS to `recipient` (normalised to E.164), due now.

    `sender_id` is the conversation the message concerns (a student's, also
    for a counsellor's notice about them): erasing it erases the message.
    `channel="kakao"`: `recipient` is a KakaoTalk bot user key (jikimi/kakao.py).
    """
    recipient = normalise_phone(recipient) if channel == "sms" else recipient
    message = OutboxMessage(
        recipient=recipient,
        recipient_hash=keyring_for(session).digest(recipient),
        channel=channel,
        body=body,
        sender_hash=None if sender_id is None else sender_hash(session, sender_id),
        status="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def claim_due(
    session: Session,
    limit: int,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
    channel: str = "sms",
) -> List[OutboxMessage]:
    """Claims up to `limit` due messages of `channel`, oldest first, for this
    dispatcher alone (each channel has its own dispatcher and transport).

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent dispatchers
    take disjoint rows without waiting for each other. Every database: each
    row is then taken with a compare-and-set UPDATE (still due, still
    unclaimed), which is what keeps SQLite safe: it has no row locks and
    ignores FOR UPDATE, but lets one writer at a time run that UPDATE, and a
    row another dispatcher claimed is no longer due. Commit to publish the claim.
    """
    due = (
        OutboxMessage.status.in_(("queued", "sending"))
        & (OutboxMessage.next_attempt_at <= now)
        & (OutboxMessage.channel == channel)
    )
    candidates = (
        session.execute(
            select(OutboxMessage.id)
            .where(due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    claimed = []
    for message_id in candidates:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, due)
            .values(
                status="sending",
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + lease,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(message_id)
    if not claimed:
        return []
    messages = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(claimed))
        .execution_options(populate_existing=True)
    ).scalars()
    return sorted(messages, key=lambda message: claimed.index(message.id))


def mark_sent(session: Session, message_id: int, provider_id: str, now: datetime) -> bool:
    """Records delivery to the provider. False if the row is not ours any more
    (deleted meanwhile by "delete my data", or already marked)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "sending")
        .values(status="sent", provider_id=provider_id, sent_at=now, last_error=None)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


def defer(session: Session, message_id: int, until: datetime) -> bool:
    """Puts a claimed message back, due at `until`, without counting the attempt
    (the dispatcher's per-number cap). False if the row is not ours any more."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "sending")
        .values(
            status="queued",
            next_attempt_at=until,
            attempts=OutboxMessage.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def mark_failed(
    session: Session,
    message_id: int,
    error: str,
    now: datetime,
    backoff: timedelta = timedelta(seconds=30),
    max_attempts: int = 8,
    permanent: bool = False,
) -> bool:
    """Records a failed attempt: retried after `backoff * 2**(attempts-1)` (at
    most an hour), or given up (`failed`) when `permanent` (e.g. an invalid
    number) or after `max_attempts`. False if the row is not ours any more."""
    message = session.get(OutboxMessage, message_id, populate_existing=True, with_for_update=True)
    if message is None or message.status != "sending":
        return False
    message.last_error = error[:2000]
    if permanent or message.attempts >= max_attempts:
        message.status = "failed"
    else:
        message.status = "queued"
        message.next_attempt_at = now + min(backoff * 2 ** (message.attempts - 1), MAX_BACKOFF)
    session.flush()
    return True


def cancel_queued_to(session: Session, sender_id: str, phone: str) -> int:
    """Drops SMS still queued to this conversation's phone (an SMS student said "그만")."""
    rows = session.execute(
        select(OutboxMessage).where(
            OutboxMessage.sender_hash == sender_hash(session, sender_id),
            OutboxMessage.status == "queued",
        )
    ).scalars()
    dropped = 0
    for row in rows:
        if row.recipient == phone:
            session.delete(row)
            dropped += 1
    return dropped
