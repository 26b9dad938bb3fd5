"""Handing a student to a human counsellor by SMS: the service behind the dialogue and the desk.

The action server calls `request_handoff`, `forward_student_message`,
`active_handoff_state` and `end_handoff_for_sender` (the contract with the
dialogue); the desk service calls `handle_counsellor_sms` for every SMS from a
registered counsellor and `escalate_expired` on a timer. Every function is one
transaction (committed before it returns) and blocks: async code calls it in a
thread.

A `Handoff` row is one request as offered to one counsellor, with its own code
(jikimi/db/models.py): requested -> notified -> accepted -> closed, or
declined / expired -> escalated, when the next counsellor by priority gets a
row of their own (`escalated_from_id`); when nobody is left, the row stays
declined / expired. Every SMS a change causes is queued in the outbox in the
change's own transaction, so none is lost and none is sent for a change that
rolled back.

What the conversation must hear (accepted, escalated, nobody left, a
counsellor's words, closed) comes back as `Notice`s: the desk sends them to
Rasa (`trigger_intent`) after the commit.

Two replies can race (a double-tapped SMS, two desk instances, a reply during
the escalation sweep). Rows are loaded `with_for_update()`, which serialises
them on PostgreSQL; every state change is also a compare-and-set UPDATE
(`WHERE state = <the state we read>`), which catches the race on SQLite, where
FOR UPDATE does nothing. The loser's transaction is rolled back and run again,
and then sees what the winner did.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Set

from sqlalchemy import func, select, update
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from jikimi import content, counsellor_commands, reading, sms
from jikimi.db import (
    ACTIVE_HANDOFF_STATES,
    Case,
    Counsellor,
    Handoff,
    OutboxMessage,
    counsellor_by_phone,
    enqueue,
    keyring_for,
    on_call_counsellors,
    sender_hash,
    session_scope,
    utcnow,
)
from jikimi.db.models import HANDOFF_TRANSITIONS
from jikimi.sessions import address_tag_of
from jikimi.settings import Settings

logger = logging.getLogger(__name__)

REASONS = ("request", "report", "crisis", "threat", "medical", "parent", "teacher")
AGE_GROUPS = ("minor", "adult")

# Intents the desk triggers in the student's conversation (the dialogue's contract).
ACCEPTED = "EXTERNAL_handoff_accepted"
ESCALATED = "EXTERNAL_handoff_escalated"
UNAVAILABLE = "EXTERNAL_handoff_unavailable"
COUNSELLOR_MESSAGE = "EXTERNAL_counsellor_message"
CLOSED = "EXTERNAL_handoff_closed"

_RACE_RETRIES = 3
# rasa.shared.core.constants.EXTERNAL_MESSAGE_PREFIX: Rasa's text for an intent
# triggered through its HTTP API is this prefix and the intent's name.
RASA_EXTERNAL_PREFIX = "EXTERNAL: "
DESK_INTENTS = (ACCEPTED, ESCALATED, UNAVAILABLE, COUNSELLOR_MESSAGE, CLOSED)


def is_triggered_intent_text(text: str) -> bool:
    """True for exactly the text Rasa gives one of the desk's triggered intents."""
    return text.strip() in {RASA_EXTERNAL_PREFIX + intent for intent in DESK_INTENTS}


@dataclass(frozen=True)
class HandoffRequest:
    """What `request_handoff` did. `code` is the handoff's (None when nobody is on call)."""

    code: Optional[str]
    counsellor_available: bool
    already_active: bool
    state: Optional[str]
    timeout_s: int
    # Nobody was paged because a page cap was reached (see `request_handoff`):
    # the student is told, like when nobody is on call, and given the hotlines.
    limited: bool = False


@dataclass(frozen=True)
class Notice:
    """Something the student's conversation must be told, through `trigger_intent`.

    `code` is the handoff it concerns: when a counsellor's words cannot be
    delivered, the desk tells that counsellor (`relay_failed`).
    """

    sender_id: str
    intent: str
    entities: Dict[str, str] = field(default_factory=dict)
    code: Optional[str] = None


class _Raced(Exception):
    """Another transaction changed the handoff between our read and our write."""


# --- helpers -------------------------------------------------------------------


def _move(session: Session, handoff: Handoff, state: str, now: datetime) -> None:
    """Compare-and-set transition; `_Raced` if the row is no longer in the state read."""
    if state not in HANDOFF_TRANSITIONS.get(handoff.state, ()):
        raise ValueError(f"A handoff cannot go from {handoff.state} to {state}.")
    stamp = f"{state}_at"
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.state == handoff.state)
        .values(state=state, **{stamp: now})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _Raced()
    set_committed_value(handoff, "state", state)
    set_committed_value(handoff, stamp, now)


def _retrying(work):
    """Runs `work()` (one transaction) again when it lost a race."""
    for attempt in range(_RACE_RETRIES):
        try:
            return work()
        except _Raced:
            logger.info("handoff update raced with another; trying again (%s)", attempt + 1)
    return work()


def _active_for(session: Session, sender_id: str, lock: bool = False) -> Optional[Handoff]:
    query = (
        select(Handoff)
        .where(
            Handoff.sender_hash == sender_hash(session, sender_id),
            Handoff.state.in_(ACTIVE_HANDOFF_STATES),
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalars().first()


def _counsellor_of(session: Session, handoff: Handoff) -> Optional[Counsellor]:
    if handoff.counsellor_id is None:
        return None
    return session.get(Counsellor, handoff.counsellor_id)


def _by_code(session: Session, code: str) -> Optional[Handoff]:
    return session.execute(
        select(Handoff).where(Handoff.code == code).with_for_update()
    ).scalar_one_or_none()


def _counsellor_sms(
    session: Session, counsellor: Counsellor, body: str, now: datetime, sender_id=None
) -> None:
    if sms.ucs2_length(body) > sms.COUNSELLOR_SMS_CHARS:
        # Texts are tested to fit; a long one still goes, as a 3-segment SMS.
        logger.warning("a counsellor SMS is longer than %s characters", sms.COUNSELLOR_SMS_CHARS)
    enqueue(session, counsellor.phone, body, now, sender_id=sender_id)


def request_sms(handoff: Handoff, case_code: Optional[str] = None, escalated=False) -> str:
    """The counsellor's SMS for `handoff`: categories only, never the student's words."""
    known = ("jikimi_sms", "kakao", "socketio", "rest")
    channel = handoff.channel if handoff.channel in known else None
    return sms.text(
        "counsellor_request",
        code=handoff.code,
        urgent=handoff.urgent,
        escalated=escalated,
        channel=sms.label("channel", channel, "other"),
        age=sms.label("age", handoff.age_group, "unknown"),
        platform=sms.label("platform", handoff.platform, "other") if handoff.platform else None,
        case_code=case_code,
        context=sms.label("context", handoff.reason, "request"),
    )


def _case_code(session: Session, handoff: Handoff) -> Optional[str]:
    if handoff.case_id is None:
        return None
    case = session.get(Case, handoff.case_id)
    return case.code if case is not None else None


def _notify(
    session: Session, handoff: Handoff, counsellor: Counsellor, now: datetime, escalated=False
) -> None:
    """Queues the counsellor's SMS and starts the acceptance clock (`notified_at`)."""
    body = request_sms(handoff, _case_code(session, handoff), escalated)
    _counsellor_sms(session, counsellor, body, now, sender_id=handoff.sender_id)
    _move(session, handoff, "notified", now)


def _asked(session: Session, handoff: Handoff) -> Set[int]:
    """Counsellors this request has already been offered to (the escalation chain)."""
    asked: Set[int] = set()
    current: Optional[Handoff] = handoff
    while current is not None:
        if current.counsellor_id is not None:
            asked.add(current.counsellor_id)
        if current.escalated_from_id is None:
            break
        current = session.get(Handoff, current.escalated_from_id)
    return asked


# --- page caps -------------------------------------------------------------------
#
# A flood (one client making a conversation per message, each saying something
# alarming) must not reach a counsellor's phone, while a real crisis in another
# conversation still does. A new request pages only when, over the last hour,
# its conversation has made fewer than JIKIMI_PAGES_PER_CONVERSATION_PER_HOUR
# requests and the client address its widget conversation was started from
# (jikimi.sessions; NULL for SMS, where the number is the conversation) fewer
# than JIKIMI_PAGES_PER_ADDRESS_PER_HOUR. Each counsellor gets at most
# JIKIMI_PAGES_PER_COUNSELLOR_PER_HOUR request SMS (escalations included); a
# counsellor at the cap is passed over for the next by priority. A request the
# caps hold back creates nothing; the conversation hears plainly that nobody
# can be reached now, with the 24-hour hotlines. Repeats while a request is
# live were never paged again (`already_active`), and still are not.
#
# Admissions are serialised (a lock in this process, and a transaction-level
# advisory lock on PostgreSQL across processes), so concurrent requests cannot
# both slip under a cap.

PAGE_WINDOW = timedelta(hours=1)
_ADMISSION_LOCK_KEY = 0x4A4B4D5041474553  # "JKMPAGES", PostgreSQL advisory lock
_admission = threading.Lock()


def _serialise_admissions(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa_text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADMISSION_LOCK_KEY})


def _requests_since(session: Session, since: datetime, *conditions) -> int:
    return session.execute(
        select(func.count(Handoff.id)).where(
            Handoff.escalated_from_id.is_(None), Handoff.requested_at >= since, *conditions
        )
    ).scalar_one()


def _held_back(
    settings: Settings, session: Session, sender_id: str, tag: Optional[str], now: datetime
) -> Optional[str]:
    """Which cap holds a new request back ("conversation", "address"), or None."""
    since = now - PAGE_WINDOW
    per_conversation = settings.pages_per_conversation_per_hour
    if (
        per_conversation
        and _requests_since(session, since, Handoff.sender_hash == sender_hash(session, sender_id))
        >= per_conversation
    ):
        return "conversation"
    per_address = settings.pages_per_address_per_hour
    if (
        tag
        and per_address
        and _requests_since(session, since, Handoff.client_tag == tag) >= per_address
    ):
        return "address"
    return None


def _pageable(
    settings: Settings, session: Session, now: datetime, exclude: Set[int] = frozenset()
) -> Optional[Counsellor]:
    """The first on-call counsellor by priority not in `exclude` and under the
    per-counsellor cap, or None."""
    cap = settings.pages_per_counsellor_per_hour
    since = now - PAGE_WINDOW
    for counsellor in on_call_counsellors(session):
        if counsellor.id in exclude:
            continue
        if cap:
            paged = session.execute(
                select(func.count(Handoff.id)).where(
                    Handoff.counsellor_id == counsellor.id, Handoff.notified_at >= since
                )
            ).scalar_one()
            if paged >= cap:
                logger.warning("counsellor %s is at the page cap; asking the next", counsellor.id)
                continue
        return counsellor
    return None


def _escalate(
    session: Session, handoff: Handoff, now: datetime, settings: Optional[Settings] = None
) -> Optional[Handoff]:
    """After a decline or a timeout: the next counsellor by priority (under the
    page cap when `settings` are given) gets a new row and an SMS; None when
    nobody is left (the row stays declined/expired)."""
    asked = _asked(session, handoff)
    if settings is not None:
        following = _pageable(settings, session, now, exclude=asked)
    else:
        following = next((c for c in on_call_counsellors(session) if c.id not in asked), None)
    if following is None:
        return None
    _move(session, handoff, "escalated", now)
    successor = Handoff(
        case_id=handoff.case_id,
        sender_hash=handoff.sender_hash,
        sender_id=handoff.sender_id,
        channel=handoff.channel,
        state="requested",
        urgent=handoff.urgent,
        reason=handoff.reason,
        age_group=handoff.age_group,
        platform=handoff.platform,
        client_tag=handoff.client_tag,
        counsellor_id=following.id,
        escalated_from_id=handoff.id,
        requested_at=now,
    )
    session.add(successor)
    session.flush()
    _notify(session, successor, following, now, escalated=True)
    return successor


# --- the dialogue's side (actions) ---------------------------------------------


def request_handoff(
    settings: Settings,
    *,
    sender_id: str,
    channel: str,
    urgent: bool,
    case_code: Optional[str] = None,
    age_group: Optional[str] = None,
    platform: Optional[str] = None,
    reason: str = "request",
) -> HandoffRequest:
    """Asks the first on-call counsellor by priority, by SMS (see the module doc).

    Idempotent: a conversation with an active handoff gets that one back
    (`already_active`); an urgent request makes a waiting one urgent and tells
    its counsellor. With nobody on call, or when a page cap holds the request
    back (`limited`; see "page caps" above), nothing is created.

    `platform` is stored only as a known category (the platform labels of
    content/sms.yml; "other" for anything else): never the client's text.
    """
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}, not {reason!r}.")
    if age_group not in AGE_GROUPS:
        age_group = None
    platform = known_platform(platform)
    tag = address_tag_of(sender_id)
    timeout = settings.handoff_timeout_s

    def work() -> HandoffRequest:
        now = utcnow()
        with session_scope(settings) as session:
            active = _active_for(session, sender_id, lock=True)
            if active is not None:
                if urgent and not active.urgent and active.state == "notified":
                    active.urgent = True
                    active.reason = reason
                    counsellor = session.get(Counsellor, active.counsellor_id)
                    if counsellor is not None:
                        body = sms.text(
                            "now_urgent",
                            code=active.code,
                            context=sms.label("context", reason, "request"),
                        )
                        _counsellor_sms(session, counsellor, body, now, sender_id=sender_id)
                return HandoffRequest(active.code, True, True, active.state, timeout)
            _serialise_admissions(session)
            cap = _held_back(settings, session, sender_id, tag, now)
            if cap is not None:
                logger.warning("a handoff request was held back by the %s page cap", cap)
                return HandoffRequest(None, False, False, None, timeout, limited=True)
            counsellor = _pageable(settings, session, now)
            if counsellor is None:
                limited = bool(on_call_counsellors(session))
                if limited:
                    logger.warning("every counsellor on call is at the page cap")
                return HandoffRequest(None, False, False, None, timeout, limited=limited)
            case = None
            if case_code:
                case = session.execute(
                    select(Case).where(
                        Case.code == case_code,
                        Case.sender_hash == sender_hash(session, sender_id),
                    )
                ).scalar_one_or_none()
            handoff = Handoff(
                case_id=case.id if case is not None else None,
                sender_hash=sender_hash(session, sender_id),
                sender_id=sender_id,
                channel=channel[:32],
                state="requested",
                urgent=urgent,
                reason=reason,
                age_group=age_group,
                platform=platform,
                client_tag=tag,
                counsellor_id=counsellor.id,
                requested_at=now,
            )
            session.add(handoff)
            session.flush()
            _notify(session, handoff, counsellor, now)
            logger.info("handoff %s requested (urgent=%s)", handoff.id, urgent)
            return HandoffRequest(handoff.code, True, False, handoff.state, timeout)

    with _admission:
        return _retrying(work)


def known_platform(platform: Optional[str]) -> Optional[str]:
    """`platform` when it is one of the categories a counsellor SMS can name,
    "other" for any other named platform (never the client's text), else None."""
    if not isinstance(platform, str) or not platform.strip():
        return None
    value = platform.strip().lower()
    return value if value in sms.categories("platform") else "other"


# What the crisis dialogue may tell the counsellor (categories, never the
# student's words): the answer to "are you safe?" (its note in content/labels.yml
# `crisis_notes`) and the kind of place.
CRISIS_STATUSES = ("unsafe", "safe", "clarified")


def crisis_update(
    settings: Settings, sender_id: str, status: str, place: Optional[str] = None
) -> bool:
    """Tells the counsellor of the conversation's active handoff what the
    student answered to the safety question (`CRISIS_STATUSES`, and a place
    category from jikimi.reading). False when no handoff is active."""
    if status not in CRISIS_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CRISIS_STATUSES)}, not {status!r}.")
    note = content.labels("crisis_notes")[status]
    if place:
        if place not in reading.DANGER_PLACE_NAMES:
            raise ValueError(f"unknown place category {place!r}")
        note += content.label("counsellor", "place", place=place)
    with session_scope(settings) as session:
        handoff = _active_for(session, sender_id)
        if handoff is None:
            return False
        counsellor = _counsellor_of(session, handoff)
        if counsellor is None:
            return False
        body = sms.text("crisis_update", code=handoff.code, note=note)
        now = utcnow()
        if _already_told(session, counsellor, handoff.code, body, now):
            return True
        _counsellor_sms(session, counsellor, body, now, sender_id=sender_id)
        return True


# A crisis conversation may answer the safety question again and again (a
# flood did, one update SMS each): a counsellor gets each update once, and at
# most this many about one handoff per hour.
UPDATES_PER_HANDOFF = 3


def _already_told(
    session: Session, counsellor: Counsellor, code: str, body: str, now: datetime
) -> bool:
    """True when this update was sent already, or the handoff had its share."""
    recent = session.execute(
        select(OutboxMessage.body).where(
            OutboxMessage.recipient_hash == keyring_for(session).digest(counsellor.phone),
            OutboxMessage.created_at >= now - PAGE_WINDOW,
        )
    ).scalars()
    start = sms.text("crisis_update", code=code, note="")
    about = [text for text in recent if text.startswith(start)]
    if body in about or len(about) >= UPDATES_PER_HANDOFF:
        logger.info("a crisis update was not sent again to the counsellor")
        return True
    return False


def active_handoff_state(settings: Settings, sender_id: str) -> Optional[str]:
    """ "notified" (a counsellor is being asked) / "accepted" / None."""
    with session_scope(settings) as session:
        handoff = _active_for(session, sender_id)
        if handoff is None:
            return None
        return "accepted" if handoff.state == "accepted" else "notified"


def forward_student_message(settings: Settings, sender_id: str, text: str) -> bool:
    """Queues the student's words to the counsellor who accepted; False when
    no handoff of this conversation is accepted (nothing is queued then).

    Whatever the student wrote is forwarded, "EXTERNAL: ..." included. Only
    the exact text Rasa gives one of the desk's own triggered intents
    ("EXTERNAL: EXTERNAL_handoff_accepted", which the relay form may hand over
    when it starts) is not: a student cannot send that text (the channel guard
    refuses it with a reply, bot/channels.py)."""
    with session_scope(settings) as session:
        handoff = _active_for(session, sender_id)
        if handoff is None or handoff.state != "accepted":
            return False
        counsellor = session.get(Counsellor, handoff.counsellor_id)
        if counsellor is None:
            return False
        if is_triggered_intent_text(text):
            logger.info("the text of a triggered intent was not forwarded")
            return True
        now = utcnow()
        prefix = sms.text("forwarded", code=handoff.code, text="") + " "
        for part in sms.split_sms(text, prefix=prefix):
            enqueue(session, counsellor.phone, part, now, sender_id=sender_id)
        return True


def end_active_handoff(session: Session, sender_id: str, now: datetime) -> Optional[str]:
    """Closes the conversation's active handoff in `session` and queues the
    counsellor's notice; returns the state it had, or None if there was none.

    The notice is not tied to the conversation (it names only the code), so
    that erasing the conversation right after does not erase it too.
    """
    handoff = _active_for(session, sender_id, lock=True)
    if handoff is None:
        return None
    before = handoff.state
    _move(session, handoff, "closed", now)
    counsellor = _counsellor_of(session, handoff)
    if counsellor is not None:
        name = "student_ended" if before == "accepted" else "student_cancelled"
        _counsellor_sms(session, counsellor, sms.text(name, code=handoff.code), now)
    logger.info("handoff %s ended by the student", handoff.id)
    return before


def end_handoff_for_sender(settings: Settings, sender_id: str) -> bool:
    """The student ends it (or erases their data): the active handoff is closed
    and its counsellor told. False when there was none."""

    def work() -> bool:
        with session_scope(settings) as session:
            return end_active_handoff(session, sender_id, utcnow()) is not None

    return _retrying(work)


# --- the counsellor's side (desk) ----------------------------------------------


def handle_counsellor_sms(settings: Settings, phone: str, text: str) -> Optional[List[Notice]]:
    """Acts on an SMS from `phone`; None when it is not a registered counsellor's.

    `수락 CODE` accepts, `거절 CODE` declines (escalating at once), `종료 CODE`
    ends; `CODE message` relays to that handoff's student (accepting it first
    when it was still only offered to this counsellor), and plain text is
    relayed when the counsellor has exactly one accepted handoff. A code that
    is not this counsellor's is refused; anything unclear gets the commands
    back by SMS. Words after `수락 CODE` are relayed once accepted; after
    `거절 CODE` they are not (the student need not read a reason). The grammar
    is jikimi/counsellor_commands.py.
    """
    command = counsellor_commands.parse(text)

    def work() -> Optional[List[Notice]]:
        now = utcnow()
        with session_scope(settings) as session:
            counsellor = counsellor_by_phone(session, phone)
            if counsellor is None:
                return None
            return _counsellor_command(session, counsellor, command, now, settings)

    return _retrying(work)


def _counsellor_command(
    session: Session,
    counsellor: Counsellor,
    command: counsellor_commands.Command,
    now: datetime,
    settings: Optional[Settings] = None,
) -> List[Notice]:
    reply = _Replier(session, counsellor, now, settings)
    if command.kind == counsellor_commands.HELP:
        reply.send("help")
        return []
    if command.kind != counsellor_commands.PLAIN:
        handoff = reply.owned(command.code)
        if handoff is None:
            return []
        if command.kind == counsellor_commands.ACCEPT:
            return _accept(session, handoff, reply, now, command.text)
        if command.kind == counsellor_commands.DECLINE:
            return _decline(session, handoff, reply, now)
        if command.kind == counsellor_commands.CLOSE:
            return _close(session, handoff, reply, now)
        if handoff.state == "notified":
            # `CODE message` to a request offered to this counsellor: writing to
            # the student takes the case, as `수락 CODE message` would; refused,
            # the words were lost and the student waited for the timer.
            return _accept(session, handoff, reply, now, command.text)
        return _relay(handoff, reply, command.text)
    accepted = list(
        session.execute(
            select(Handoff)
            .where(Handoff.counsellor_id == counsellor.id, Handoff.state == "accepted")
            .order_by(Handoff.accepted_at)
        ).scalars()
    )
    if len(accepted) == 1:
        return _relay(accepted[0], reply, command.text)
    if len(accepted) > 1:
        reply.send("several_active", codes=", ".join(h.code for h in accepted))
        return []
    reply.send("help")
    return []


class _Replier:
    """SMS back to the counsellor who wrote, in the same transaction."""

    def __init__(
        self,
        session: Session,
        counsellor: Counsellor,
        now: datetime,
        settings: Optional[Settings] = None,
    ) -> None:
        self.session = session
        self.counsellor = counsellor
        self.now = now
        self.settings = settings  # the page cap for an escalation

    def send(self, name: str, **context: str) -> None:
        _counsellor_sms(self.session, self.counsellor, sms.text(name, **context), self.now)

    def owned(self, code: str) -> Optional[Handoff]:
        """The handoff with `code`, locked, if it is this counsellor's; else says why not."""
        handoff = _by_code(self.session, code)
        if handoff is None:
            self.send("unknown_code", code=code)
            return None
        if handoff.counsellor_id != self.counsellor.id:
            logger.warning("a counsellor used a code offered to someone else")
            self.send("not_yours", code=code)
            return None
        return handoff


def _relay(handoff: Handoff, reply: _Replier, text: str) -> List[Notice]:
    if handoff.state == "accepted":
        return [
            Notice(handoff.sender_id, COUNSELLOR_MESSAGE, {"counsellor_text": text}, handoff.code)
        ]
    reply.send("not_accepted_yet" if handoff.state == "notified" else "gone", code=handoff.code)
    return []


def _accept(
    session: Session, handoff: Handoff, reply: _Replier, now: datetime, rest: str
) -> List[Notice]:
    if handoff.state == "accepted":
        reply.send("already_accepted", code=handoff.code)
        return _relay(handoff, reply, rest) if rest else []
    if handoff.state != "notified":
        reply.send("gone", code=handoff.code)
        return []
    _move(session, handoff, "accepted", now)
    reply.send("accepted", code=handoff.code)
    logger.info("handoff %s accepted", handoff.id)
    notices = [Notice(handoff.sender_id, ACCEPTED, {}, handoff.code)]
    if rest:
        notices += _relay(handoff, reply, rest)
    return notices


def _decline(session: Session, handoff: Handoff, reply: _Replier, now: datetime) -> List[Notice]:
    if handoff.state == "accepted":
        reply.send("already_accepted", code=handoff.code)
        return []
    if handoff.state != "notified":
        reply.send("gone", code=handoff.code)
        return []
    _move(session, handoff, "declined", now)
    logger.info("handoff %s declined", handoff.id)
    successor = _escalate(session, handoff, now, reply.settings)
    if successor is None:
        reply.send("declined_nobody", code=handoff.code)
        return [Notice(handoff.sender_id, UNAVAILABLE, {}, handoff.code)]
    reply.send("declined", code=handoff.code)
    return [Notice(handoff.sender_id, ESCALATED, {}, successor.code)]


def _close(session: Session, handoff: Handoff, reply: _Replier, now: datetime) -> List[Notice]:
    if handoff.state == "notified":
        reply.send("not_accepted_yet", code=handoff.code)
        return []
    if handoff.state != "accepted":
        reply.send("gone", code=handoff.code)
        return []
    _move(session, handoff, "closed", now)
    reply.send("closed", code=handoff.code)
    logger.info("handoff %s closed by the counsellor", handoff.id)
    return [Notice(handoff.sender_id, CLOSED, {}, handoff.code)]


def relay_failed(settings: Settings, code: str) -> None:
    """Tells the counsellor of `code` that their words did not reach the student."""
    with session_scope(settings) as session:
        handoff = session.execute(select(Handoff).where(Handoff.code == code)).scalar_one_or_none()
        if handoff is None or handoff.counsellor_id is None:
            return
        counsellor = session.get(Counsellor, handoff.counsellor_id)
        if counsellor is not None:
            _counsellor_sms(session, counsellor, sms.text("relay_failed", code=code), utcnow())


# --- the timer (desk) ----------------------------------------------------------


def escalate_expired(settings: Settings, now: Optional[datetime] = None) -> List[Notice]:
    """Handoffs not accepted within `JIKIMI_HANDOFF_TIMEOUT_S` go to the next
    counsellor (or, with nobody left, end); one transaction per handoff."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.handoff_timeout_s)
    with session_scope(settings) as session:
        due = list(
            session.execute(
                select(Handoff.id)
                .where(Handoff.state == "notified", Handoff.notified_at <= cutoff)
                .order_by(Handoff.notified_at, Handoff.id)
                .limit(100)
            ).scalars()
        )
    notices: List[Notice] = []
    for handoff_id in due:
        try:
            notices += _expire_one(settings, handoff_id, cutoff, now)
        except _Raced:
            pass  # accepted or declined meanwhile: nothing to expire
    return notices


def _expire_one(settings: Settings, handoff_id: int, cutoff: datetime, now: datetime):
    with session_scope(settings) as session:
        handoff = session.execute(
            select(Handoff)
            .where(
                Handoff.id == handoff_id,
                Handoff.state == "notified",
                Handoff.notified_at <= cutoff,
            )
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if handoff is None:
            return []
        _move(session, handoff, "expired", now)
        logger.info("handoff %s expired", handoff.id)
        counsellor = _counsellor_of(session, handoff)
        successor = _escalate(session, handoff, now, settings)
        if counsellor is not None:
            name = "expired" if successor is not None else "expired_nobody"
            _counsellor_sms(session, counsellor, sms.text(name, code=handoff.code), now)
        if successor is None:
            return [Notice(handoff.sender_id, UNAVAILABLE, {}, handoff.code)]
        return [Notice(handoff.sender_id, ESCALATED, {}, successor.code)]
