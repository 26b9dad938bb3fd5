"""Who a phone number is: a counsellor on the roster, or an SMS student's
conversation; and which conversation a KakaoTalk bot user key is.

Numbers are normalised (`normalise_phone`) and looked up by keyed hash, never
by the number itself: the columns holding numbers are encrypted.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import List, Optional

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jikimi.db.crypto import keyring_for
from jikimi.db.models import Counsellor, KakaoContact, SmsContact
from jikimi.db.phone import normalise_phone


def _phone_hash(session: Session, phone: str) -> Optional[str]:
    try:
        return keyring_for(session).digest(normalise_phone(phone))
    except ValueError:
        return None


def add_counsellor(session: Session, name: str, phone: str, priority: int = 100) -> Counsellor:
    """Adds a counsellor; ValueError for an invalid or already registered number."""
    number = normalise_phone(phone)
    phone_hash = keyring_for(session).digest(number)
    if counsellor_by_phone(session, number) is not None:
        raise ValueError(f"{number} is already registered as a counsellor.")
    counsellor = Counsellor(
        name=name.strip(), phone=number, phone_hash=phone_hash, priority=priority, active=True
    )
    session.add(counsellor)
    session.flush()
    return counsellor


def counsellor_by_phone(session: Session, phone: str) -> Optional[Counsellor]:
    """The counsellor (active or not) with this number, in any spelling; None
    for anyone else, malformed numbers included (an inbound SMS's `From`)."""
    phone_hash = _phone_hash(session, phone)
    if phone_hash is None:
        return None
    return session.execute(
        select(Counsellor).where(Counsellor.phone_hash == phone_hash)
    ).scalar_one_or_none()


def on_call_counsellors(session: Session) -> List[Counsellor]:
    """Active counsellors in the order they are asked: priority, then seniority."""
    return list(
        session.execute(
            select(Counsellor)
            .where(Counsellor.active.is_(True))
            .order_by(Counsellor.priority, Counsellor.id)
        ).scalars()
    )


def sms_sender_id(session: Session, phone: str, now: datetime) -> str:
    """The Rasa sender id for SMS from `phone`, created on its first message.

    Two SMS from a new number can arrive at once; the insert ignores the
    conflict (`ON CONFLICT DO NOTHING`) and both get the id that won.
    """
    number = normalise_phone(phone)
    phone_hash = keyring_for(session).digest(number)
    existing = session.execute(
        select(SmsContact).where(SmsContact.phone_hash == phone_hash)
    ).scalar_one_or_none()
    if existing is not None:
        existing.last_seen_at = now
        return existing.sender_id
    row = dict(
        sender_id="sms-" + secrets.token_urlsafe(18),
        phone=number,
        phone_hash=phone_hash,
        created_at=now,
        last_seen_at=now,
    )
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(SmsContact).on_conflict_do_nothing(index_elements=["phone_hash"])
    else:
        statement = insert(SmsContact)
    session.execute(statement.values(**row))
    return session.execute(
        select(SmsContact.sender_id).where(SmsContact.phone_hash == phone_hash)
    ).scalar_one()


def sms_phone(session: Session, sender_id: str) -> Optional[str]:
    """The number to text for an SMS conversation; None if unknown or erased."""
    contact = session.get(SmsContact, sender_id)
    return None if contact is None else contact.phone


def kakao_sender_id(session: Session, user_key: str, now: datetime) -> str:
    """The Rasa sender id for a KakaoTalk bot user key, created on its first
    message (as `sms_sender_id`: random, so it says nothing about the key)."""
    key_hash = keyring_for(session).digest(user_key)
    existing = session.execute(
        select(KakaoContact).where(KakaoContact.user_key_hash == key_hash)
    ).scalar_one_or_none()
    if existing is not None:
        existing.last_seen_at = now
        return existing.sender_id
    row = dict(
        sender_id="kakao-" + secrets.token_urlsafe(18),
        user_key=user_key,
        user_key_hash=key_hash,
        created_at=now,
        last_seen_at=now,
    )
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(KakaoContact).on_conflict_do_nothing(
            index_elements=["user_key_hash"]
        )
    else:
        statement = insert(KakaoContact)
    session.execute(statement.values(**row))
    return session.execute(
        select(KakaoContact.sender_id).where(KakaoContact.user_key_hash == key_hash)
    ).scalar_one()


def kakao_sender_of(session: Session, user_key: str) -> Optional[str]:
    """The conversation of a bot user key that has written before, else None."""
    key_hash = keyring_for(session).digest(user_key)
    return session.execute(
        select(KakaoContact.sender_id).where(KakaoContact.user_key_hash == key_hash)
    ).scalar_one_or_none()


def kakao_user_key(session: Session, sender_id: str) -> Optional[str]:
    """The bot user key of a KakaoTalk conversation; None if unknown or erased."""
    contact = session.get(KakaoContact, sender_id)
    return None if contact is None else contact.user_key
