"""Tables: what a report, an evidence entry, a handoff and an SMS are, and what is kept.

The rule throughout: store what the service needs to help, in the least
readable form that still works. Anything a person typed (descriptions, links,
names of files and rooms) and anything that reaches a person (phone numbers,
message bodies, sender ids) is encrypted (`EncryptedText`). What must be looked
up is stored beside it as a keyed hash (`*_hash`). Categories the flows
branch on (platform, minor, risk) stay plain: they identify nobody alone and
the service counts and filters by them. Files never reach us: evidence is a
SHA-256 computed on the student's device.

Changing a model means a new migration in `migrations/versions/`;
tests/unit/test_db.py fails while the two disagree.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.mutable import MutableList
from sqlalchemy.orm import Mapped, declarative_base, relationship, validates
from sqlalchemy.types import TypeDecorator

from jikimi.db.crypto import EncryptedJSON, EncryptedText

# Constraint names spelled out, so that migrations name them alike on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base: Any = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on PostgreSQL and SQLite alike.

    SQLite keeps no time zone and would hand back naive datetimes, which then
    cannot be compared with `now`; naive input is refused for the same reason.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Times are stored in UTC: pass an aware datetime.")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: Dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# No 0/O, 1/I/L: a code read aloud or copied from a phone screen stays right.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
CODE_PATTERN = re.compile(rf"JK-[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


def new_code() -> str:
    """`JK-7F3Q2M`: 31^6 (~890 million) codes, drawn with `secrets`, so not guessable
    by counting; a clash only fails the insert (unique), never merges two cases."""
    return "JK-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _one_of(name: str, values: Iterable[str]) -> CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{name} IN ({quoted})", name=name)


def _check_choice(field: str, value: Optional[str], choices: Iterable[str]) -> Optional[str]:
    if value is not None and value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(choices)}, not {value!r}.")
    return value


CASE_STATUSES = ("open", "closed")
RISK_LEVELS = ("low", "medium", "high")
PERPETRATOR_RELATIONS = ("classmate", "known", "stranger", "unknown")


class Case(Base):
    """A report. Found again by its public code (told to the student) or by the
    hashed sender id (for "delete my data"); the sender id itself is not kept.

    Unanswered questions stay NULL: every question in the form can be skipped.
    `when_happened`, `description` and `urls` are the student's own words and
    links, so they are encrypted; `urls` is a list (assign a new list or
    mutate it in place, both are saved).
    """

    __tablename__ = "cases"
    __table_args__ = (
        _one_of("status", CASE_STATUSES),
        _one_of("risk_level", RISK_LEVELS),
        _one_of("perpetrator_relation", PERPETRATOR_RELATIONS),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    code: Mapped[str] = Column(String(16), nullable=False, unique=True, default=new_code)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = Column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
    closed_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    channel: Mapped[str] = Column(String(32), nullable=False)
    sender_hash: Mapped[str] = Column(String(64), nullable=False, index=True)
    anonymous: Mapped[Optional[bool]] = Column(Boolean)
    minor: Mapped[Optional[bool]] = Column(Boolean)
    platform: Mapped[Optional[str]] = Column(String(32))
    when_happened: Mapped[Optional[str]] = Column(EncryptedText)
    perpetrator_relation: Mapped[Optional[str]] = Column(String(16))
    still_online: Mapped[Optional[bool]] = Column(Boolean)
    risk_level: Mapped[str] = Column(String(8), nullable=False, default="medium")
    status: Mapped[str] = Column(String(8), nullable=False, default="open")
    description: Mapped[Optional[str]] = Column(EncryptedText)
    urls: Mapped[Optional[List[str]]] = Column(MutableList.as_mutable(EncryptedJSON))

    evidence: Mapped[List["EvidenceItem"]] = relationship(
        "EvidenceItem",
        back_populates="case",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="EvidenceItem.id",
    )

    @validates("status", "risk_level", "perpetrator_relation")
    def _validate_choice(self, field: str, value: Optional[str]) -> Optional[str]:
        choices = {
            "status": CASE_STATUSES,
            "risk_level": RISK_LEVELS,
            "perpetrator_relation": PERPETRATOR_RELATIONS,
        }[field]
        return _check_choice(field, value, choices)

    def close(self, now: datetime) -> None:
        """Closing starts the retention clock (`purge_older_than`)."""
        self.status = "closed"
        self.closed_at = now


EVIDENCE_KINDS = ("url", "screenshot", "chat_room", "note")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class EvidenceItem(Base):
    """One entry of a case's evidence log. For files only the SHA-256 that the
    student's device computed: it proves later that a file is unchanged without
    the file (or the abuse it shows) ever reaching us. Name, link and
    description are encrypted: a room name or link can identify people.
    """

    __tablename__ = "evidence_items"
    __table_args__ = (_one_of("kind", EVIDENCE_KINDS),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    case_id: Mapped[int] = Column(
        Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = Column(String(16), nullable=False)
    sha256: Mapped[Optional[str]] = Column(String(64))
    captured_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
    name: Mapped[Optional[str]] = Column(EncryptedText)
    url: Mapped[Optional[str]] = Column(EncryptedText)
    description: Mapped[Optional[str]] = Column(EncryptedText)

    case: Mapped[Case] = relationship(Case, back_populates="evidence")

    @validates("kind")
    def _validate_kind(self, field: str, value: str) -> str:
        return _check_choice(field, value, EVIDENCE_KINDS)

    @validates("sha256")
    def _validate_sha256(self, field: str, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.strip().lower()
        if not _SHA256.fullmatch(value):
            raise ValueError("sha256 must be 64 hexadecimal characters.")
        return value


class Counsellor(Base):
    """Someone who takes handoffs by SMS. The name is plain (staff, shown to
    operators); the phone is encrypted, with `phone_hash` to recognise an
    inbound SMS as theirs. Lower `priority` is asked first."""

    __tablename__ = "counsellors"

    id: Mapped[int] = Column(Integer, primary_key=True)
    name: Mapped[str] = Column(String(100), nullable=False)
    phone: Mapped[str] = Column(EncryptedText, nullable=False)
    phone_hash: Mapped[str] = Column(String(64), nullable=False, unique=True)
    priority: Mapped[int] = Column(Integer, nullable=False, default=100)
    active: Mapped[bool] = Column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)


HANDOFF_STATES = (
    "requested",
    "notified",
    "accepted",
    "closed",
    "declined",
    "expired",
    "escalated",
)
ACTIVE_HANDOFF_STATES = ("requested", "notified", "accepted")
FINISHED_HANDOFF_STATES = ("closed", "declined", "expired", "escalated")
HANDOFF_TRANSITIONS: Dict[str, tuple] = {
    "requested": ("notified", "expired", "closed"),
    "notified": ("accepted", "declined", "expired", "closed"),
    "accepted": ("closed",),
    # Passed on to the next counsellor, who gets a Handoff of their own.
    "declined": ("escalated",),
    "expired": ("escalated",),
}


class Handoff(Base):
    """One request for a person, as offered to one counsellor.

    requested -> notified -> accepted -> closed; a decline or a timeout ends
    this row (declined / expired), and escalating it (escalated) creates the
    next counsellor's row, which points back through `escalated_from_id`.
    Each row has its own `code`, the one its counsellor replies with, so a
    code is worthless from any other phone and after the row has ended.

    `sender_id` is the opaque Rasa conversation id the desk needs to relay a
    counsellor's words (`trigger_intent`); it is encrypted, and `sender_hash`
    finds the active handoff of a conversation. `case_id` is NULL when a
    student asks for a person without making a report.
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        _one_of("state", HANDOFF_STATES),
        Index("ix_handoffs_state_notified_at", "state", "notified_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    code: Mapped[str] = Column(String(16), nullable=False, unique=True, default=new_code)
    case_id: Mapped[Optional[int]] = Column(
        Integer, ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    sender_hash: Mapped[str] = Column(String(64), nullable=False, index=True)
    sender_id: Mapped[str] = Column(EncryptedText, nullable=False)
    channel: Mapped[str] = Column(String(32), nullable=False)
    state: Mapped[str] = Column(String(16), nullable=False, default="requested")
    urgent: Mapped[bool] = Column(Boolean, nullable=False, default=False)
    # What the counsellor's SMS says about the request, kept so that an
    # escalation can tell the next counsellor the same: categories only
    # (jikimi.handoff), never the student's words.
    reason: Mapped[Optional[str]] = Column(String(16))
    # The keyed tag of the client address a widget conversation was started
    # from (jikimi.sessions), so that pages can be capped per address; NULL for
    # SMS and other channels. Never the address itself.
    client_tag: Mapped[Optional[str]] = Column(String(16), index=True)
    age_group: Mapped[Optional[str]] = Column(String(8))
    platform: Mapped[Optional[str]] = Column(String(32))
    counsellor_id: Mapped[Optional[int]] = Column(
        Integer, ForeignKey("counsellors.id", ondelete="SET NULL"), index=True
    )
    escalated_from_id: Mapped[Optional[int]] = Column(
        Integer, ForeignKey("handoffs.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
    notified_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    accepted_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    closed_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    declined_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    expired_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    escalated_at: Mapped[Optional[datetime]] = Column(UTCDateTime)

    case: Mapped[Optional[Case]] = relationship(Case)
    counsellor: Mapped[Optional[Counsellor]] = relationship(Counsellor)

    @validates("state")
    def _validate_state(self, field: str, value: str) -> str:
        return _check_choice(field, value, HANDOFF_STATES)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_HANDOFF_STATES

    def advance(self, state: str, now: datetime) -> None:
        """Moves to `state`, stamping `<state>_at`; refuses a move the flow does not have.

        Concurrent replies (two desk instances, a double-tapped SMS) are the
        caller's to serialise: load the row `with_for_update()` first.
        """
        if state not in HANDOFF_TRANSITIONS.get(self.state, ()):
            raise ValueError(f"A handoff cannot go from {self.state} to {state}.")
        self.state = state
        setattr(self, f"{state}_at", now)


OUTBOX_STATUSES = ("queued", "sending", "sent", "failed")
# Where a message goes: an SMS through Twilio, or a KakaoTalk user through
# Kakao's event API (jikimi/kakao.py; the body is then JSON: text and buttons).
OUTBOX_CHANNELS = ("sms", "kakao")


class OutboxMessage(Base):
    """An SMS we owe. Written in the transaction of the change that caused it,
    sent by the dispatcher (`jikimi.db.outbox`), so nothing is lost when
    Twilio is down. Recipient, body and the provider's error text (Twilio's
    errors quote phone numbers) are encrypted. `sender_hash` is the
    conversation the message concerns, so that erasing a conversation also
    erases what it caused to be sent.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        _one_of("status", OUTBOX_STATUSES),
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_messages_recipient_hash_sent_at", "recipient_hash", "sent_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    recipient: Mapped[str] = Column(EncryptedText, nullable=False)
    body: Mapped[str] = Column(EncryptedText, nullable=False)
    sender_hash: Mapped[Optional[str]] = Column(String(64), index=True)
    # Keyed hash of the recipient's number: the dispatcher caps what one
    # number is sent per minute (JIKIMI_SMS_PER_NUMBER_PER_MINUTE).
    recipient_hash: Mapped[Optional[str]] = Column(String(64))
    status: Mapped[str] = Column(String(8), nullable=False, default="queued")
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
    provider_id: Mapped[Optional[str]] = Column(String(64))
    last_error: Mapped[Optional[str]] = Column(EncryptedText)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at: Mapped[Optional[datetime]] = Column(UTCDateTime)
    channel: Mapped[str] = Column(String(8), nullable=False, default="sms", server_default="sms")
    # KakaoTalk only: when the text was shown in a skill response. "sent" means
    # the event API was asked to open the event block, whose skill call then
    # shows every message not yet delivered (jikimi/kakao.py).
    delivered_at: Mapped[Optional[datetime]] = Column(UTCDateTime)

    @validates("status")
    def _validate_status(self, field: str, value: str) -> str:
        return _check_choice(field, value, OUTBOX_STATUSES)

    @validates("channel")
    def _validate_channel(self, field: str, value: str) -> str:
        return _check_choice(field, value, OUTBOX_CHANNELS)


class SmsContact(Base):
    """The opaque id an SMS student is known by in Rasa, and their number.

    The tracker sees only `sender_id` (random, so it says nothing about the
    number); the number is encrypted, and `phone_hash` finds the id again when
    the next SMS arrives. Deleting the row ("삭제") makes the next SMS from
    that phone a new conversation.
    """

    __tablename__ = "sms_contacts"

    sender_id: Mapped[str] = Column(String(40), primary_key=True)
    phone: Mapped[str] = Column(EncryptedText, nullable=False)
    phone_hash: Mapped[str] = Column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)


class KakaoContact(Base):
    """The opaque id a KakaoTalk user is known by in Rasa, and their bot user key.

    As for SMS numbers: the tracker sees only `sender_id` (random); the bot user
    key (Open Builder's `botUserKey`, which the event API needs) is encrypted,
    and `user_key_hash` finds the id again on the next skill request. Deleting
    the row ("삭제") makes the next message a new conversation.
    """

    __tablename__ = "kakao_contacts"

    sender_id: Mapped[str] = Column(String(40), primary_key=True)
    user_key: Mapped[str] = Column(EncryptedText, nullable=False)
    user_key_hash: Mapped[str] = Column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)


class InboundSms(Base):
    """Twilio's `MessageSid` of every inbound SMS acted on, so that a webhook
    Twilio delivers twice (or a journaled one replayed after an outage) is
    acted on once, whichever desk process gets it. Purged with the SMS
    retention; nothing else about the message is kept here."""

    __tablename__ = "inbound_sms"

    message_sid: Mapped[str] = Column(String(64), primary_key=True)
    received_at: Mapped[datetime] = Column(UTCDateTime, nullable=False, default=utcnow)
