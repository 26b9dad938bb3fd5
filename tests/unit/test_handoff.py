"""jikimi/handoff.py on real databases (SQLite and PostgreSQL, the `db` fixture):
requesting a counsellor, the counsellor's SMS commands, relaying both ways,
escalation on decline and on timeout, nobody left, and replies that race."""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import List

import pytest
import yaml
from sqlalchemy import select

from jikimi import content, handoff, sms
from jikimi.db import (
    CODE_PATTERN,
    Case,
    Handoff,
    OutboxMessage,
    add_counsellor,
    delete_conversation_data,
    sender_hash,
    utcnow,
)
from jikimi.handoff import (
    ACCEPTED,
    CLOSED,
    COUNSELLOR_MESSAGE,
    ESCALATED,
    UNAVAILABLE,
    Notice,
)

ROOT = Path(__file__).resolve().parents[2]
# A copy of ../shared/facts-ko.md (checked against it in test_wording.py).
FACTS_KO = ROOT / "tests" / "data" / "facts-ko.md"
KIM, LEE, PARK = "+821011112222", "+821033334444", "+821055556666"
STUDENT = "sms-student-1"


@pytest.fixture
def settings(db):
    return dataclasses.replace(db.settings, handoff_timeout_s=60)


@pytest.fixture
def roster(db):
    """Three counsellors: Kim first, then Lee, then Park (priority order)."""
    with db.session() as session:
        add_counsellor(session, "박상담", "010-5555-6666", priority=30)
        add_counsellor(session, "김상담", "010-1111-2222", priority=10)
        add_counsellor(session, "이상담", "010 3333 4444", priority=20)
    return [KIM, LEE, PARK]


def outbox(db, to=None) -> List[OutboxMessage]:
    with db.session() as session:
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        return [row for row in rows if to is None or row.recipient == to]


def bodies(db, to) -> List[str]:
    return [row.body for row in outbox(db, to)]


def handoffs(db) -> List[Handoff]:
    with db.session() as session:
        return session.execute(select(Handoff).order_by(Handoff.id)).scalars().all()


def ask(settings, sender=STUDENT, **fields):
    options = dict(sender_id=sender, channel="jikimi_sms", urgent=False)
    options.update(fields)
    return handoff.request_handoff(settings, **options)


def sms_from(settings, phone, text):
    return handoff.handle_counsellor_sms(settings, phone, text)


# --- requesting ------------------------------------------------------------------


def test_request_creates_the_handoff_and_the_first_counsellors_sms(db, settings, roster):
    result = ask(settings, urgent=True, age_group="minor", platform="telegram", reason="report")
    assert result.counsellor_available and not result.already_active
    assert result.state == "notified" and result.timeout_s == 60
    assert CODE_PATTERN.fullmatch(result.code)
    [row] = handoffs(db)
    assert (row.code, row.state, row.urgent) == (result.code, "notified", True)
    assert row.reason == "report"
    assert row.notified_at is not None
    [notice] = outbox(db)
    assert notice.recipient == KIM  # priority 10 before 20 and 30
    body = notice.body
    for part in (result.code, "긴급", "문자", "미성년", "텔레그램", "피해 신고", "수락", "거절"):
        assert part in body, part
    assert sms.ucs2_length(body) <= 134
    assert "http" not in body and STUDENT not in body
    with db.session() as session:  # erased with the conversation
        assert notice.sender_hash == sender_hash(session, STUDENT)


def test_a_second_request_returns_the_active_one(db, settings, roster):
    first = ask(settings)
    again = ask(settings, reason="report")
    assert again.already_active and again.code == first.code and again.state == "notified"
    assert len(handoffs(db)) == 1 and len(outbox(db)) == 1


def test_an_urgent_request_while_waiting_makes_the_handoff_urgent(db, settings, roster):
    first = ask(settings)
    again = ask(settings, urgent=True, reason="crisis")
    assert again.already_active and again.code == first.code
    [row] = handoffs(db)
    assert row.urgent and row.reason == "crisis"
    latest = bodies(db, KIM)[-1]
    assert "긴급" in latest and first.code in latest and "자해" in latest
    assert sms.ucs2_length(latest) <= 134


def test_nobody_on_call_creates_nothing(db, settings):
    result = ask(settings)
    assert result == handoff.HandoffRequest(None, False, False, None, 60)
    assert handoffs(db) == [] and outbox(db) == []


def test_disabled_counsellors_are_not_asked(db, settings, roster):
    with db.session() as session:
        from jikimi.db import counsellor_by_phone

        counsellor_by_phone(session, KIM).active = False
    ask(settings)
    assert [row.recipient for row in outbox(db)] == [LEE]


def test_a_case_code_is_shown_only_for_the_students_own_case(db, settings, roster):
    with db.session() as session:
        own = Case(sender_hash=sender_hash(session, STUDENT), channel="jikimi_sms")
        other = Case(sender_hash=sender_hash(session, "someone-else"), channel="socketio")
        session.add_all([own, other])
        session.flush()
        own_code, other_code = own.code, other.code
    ask(settings, case_code=own_code)
    assert own_code in bodies(db, KIM)[0]
    ask(settings, sender="sms-student-2", case_code=other_code)
    assert other_code not in bodies(db, KIM)[1]
    rows = handoffs(db)
    assert rows[0].case_id is not None and rows[1].case_id is None


def test_bad_reason_is_refused_and_odd_categories_are_tolerated(db, settings, roster):
    with pytest.raises(ValueError):
        ask(settings, reason="gossip")
    result = ask(settings, age_group="teen", platform="  MySpace  ")
    body = bodies(db, KIM)[0]
    assert result.code in body and "나이 모름" in body and "기타 플랫폼" in body


# --- the counsellor's SMS --------------------------------------------------------


def test_a_stranger_is_not_a_counsellor(db, settings, roster):
    assert sms_from(settings, "010-9999-8888", "수락 JK-ABCDEF") is None
    assert sms_from(settings, "not a number", "수락") is None


def test_accept_relay_and_close(db, settings, roster):
    code = ask(settings).code
    accepted = sms_from(settings, "010-1111-2222", f"수락 {code}")
    assert accepted == [Notice(STUDENT, ACCEPTED, {}, code)]
    assert handoff.active_handoff_state(settings, STUDENT) == "accepted"
    assert "수락했어요" in bodies(db, KIM)[-1]
    # Plain text: the one accepted handoff.
    hello = "안녕하세요, 상담 선생님이에요."
    assert sms_from(settings, KIM, hello) == [
        Notice(STUDENT, COUNSELLOR_MESSAGE, {"counsellor_text": hello}, code)
    ]
    # The student's words go to the counsellor, marked with the code.
    assert handoff.forward_student_message(settings, STUDENT, "고마워요")
    assert bodies(db, KIM)[-1] == f"[{code}] 고마워요"
    assert sms_from(settings, KIM, f"종료 {code}") == [Notice(STUDENT, CLOSED, {}, code)]
    assert handoff.active_handoff_state(settings, STUDENT) is None
    assert not handoff.forward_student_message(settings, STUDENT, "여보세요?")
    assert "끝냈어요" in bodies(db, KIM)[-1]
    [row] = handoffs(db)
    assert row.state == "closed" and row.accepted_at and row.closed_at


@pytest.mark.parametrize(
    "text",
    ["수락 {code}", "수락{code}", "수락 {lower}", "수락 {bare}", " 수락: {code} ", "수락 {code}!"],
)
def test_accept_is_read_in_the_forms_people_type(db, settings, roster, text):
    code = ask(settings).code
    message = text.format(code=code, lower=code.lower(), bare=code.replace("-", ""))
    assert sms_from(settings, KIM, message) == [Notice(STUDENT, ACCEPTED, {}, code)]


def test_words_after_accept_are_relayed_once_accepted(db, settings, roster):
    code = ask(settings).code
    notices = sms_from(settings, KIM, f"수락 {code} 지금 이야기할 수 있어요")
    assert [n.intent for n in notices] == [ACCEPTED, COUNSELLOR_MESSAGE]
    assert notices[1].entities == {"counsellor_text": "지금 이야기할 수 있어요"}


def test_accepting_twice_is_harmless(db, settings, roster):
    code = ask(settings).code
    sms_from(settings, KIM, f"수락 {code}")
    assert sms_from(settings, KIM, f"수락 {code}") == []
    assert "이미 수락한" in bodies(db, KIM)[-1]


def test_decline_escalates_to_the_next_counsellor_at_once(db, settings, roster):
    code = ask(settings, urgent=True, platform="instagram").code
    notices = sms_from(settings, KIM, f"거절 {code} 지금 수업 중이에요")
    first, second = handoffs(db)
    assert (first.state, second.state) == ("escalated", "notified")
    assert first.declined_at and first.escalated_at
    assert second.escalated_from_id == first.id and second.code != code
    assert (second.urgent, second.platform) == (True, "instagram")
    assert notices == [Notice(STUDENT, ESCALATED, {}, second.code)]
    assert "다음 선생님께 넘겼어요" in bodies(db, KIM)[-1]
    offer = bodies(db, LEE)[0]
    assert second.code in offer and "넘겨받음" in offer and "인스타그램" in offer
    assert "수업" not in offer  # the decline's words go nowhere
    # The old code is dead, also for the counsellor who declined it.
    assert sms_from(settings, KIM, f"수락 {code}") == []
    assert "이미 끝났거나" in bodies(db, KIM)[-1]
    # The request is still active for the student, with the new counsellor.
    assert handoff.active_handoff_state(settings, STUDENT) == "notified"
    assert ask(settings).code == second.code


def test_when_everyone_declines_the_student_hears_nobody_is_left(db, settings, roster):
    code = ask(settings).code
    for phone in (KIM, LEE):
        [notice] = sms_from(settings, phone, f"거절 {code}")
        assert notice.intent == ESCALATED
        code = notice.code
    assert sms_from(settings, PARK, f"거절 {code}") == [Notice(STUDENT, UNAVAILABLE, {}, code)]
    assert [h.state for h in handoffs(db)] == ["escalated", "escalated", "declined"]
    assert "다른 상담 창구" in bodies(db, PARK)[-1]
    assert handoff.active_handoff_state(settings, STUDENT) is None
    # Asking again starts over from the first counsellor.
    assert ask(settings).counsellor_available
    assert bodies(db, KIM)[-1].startswith("[지킴이] 상담 요청")


def test_codes_work_only_from_their_counsellor(db, settings, roster):
    code = ask(settings).code
    for text in (f"수락 {code}", f"거절 {code}", f"종료 {code}", f"{code} 안녕"):
        assert sms_from(settings, LEE, text) == []
        assert "선생님께 온 요청이 아니에요" in bodies(db, LEE)[-1]
    assert handoffs(db)[0].state == "notified"


def test_unknown_codes_and_unclear_messages_get_the_commands(db, settings, roster):
    ask(settings)
    assert sms_from(settings, KIM, "수락 JK-ZZZZZZ") == []
    assert "찾지 못했어요" in bodies(db, KIM)[-1]
    for unclear in ("수락", "네 알겠습니다", "", "종료 부탁해요", "JK-ZZZZZZ"):
        assert sms_from(settings, KIM, unclear) == []
        assert bodies(db, KIM)[-1] == sms.text("help"), unclear


def test_close_needs_an_accepted_handoff_and_no_trailing_words(db, settings, roster):
    code = ask(settings).code
    assert sms_from(settings, KIM, f"종료 {code}") == []
    assert "아직 수락하지 않은" in bodies(db, KIM)[-1]
    sms_from(settings, KIM, f"수락 {code}")
    assert sms_from(settings, KIM, f"종료 {code} 잘 지내요") == []
    assert bodies(db, KIM)[-1] == sms.text("help")
    assert handoff.active_handoff_state(settings, STUDENT) == "accepted"


def test_several_handoffs_need_the_code_in_front(db, settings, roster):
    first = ask(settings, sender="sms-a").code
    second = ask(settings, sender="sms-b").code
    sms_from(settings, KIM, f"수락 {first}")
    sms_from(settings, KIM, f"수락 {second}")
    assert sms_from(settings, KIM, "괜찮아요?") == []
    assert "여러 건" in bodies(db, KIM)[-1] and first in bodies(db, KIM)[-1]
    assert sms_from(settings, KIM, f"{second} 괜찮아요?") == [
        Notice("sms-b", COUNSELLOR_MESSAGE, {"counsellor_text": "괜찮아요?"}, second)
    ]
    assert sms_from(settings, KIM, f"[{first.lower()}] 네") == [
        Notice("sms-a", COUNSELLOR_MESSAGE, {"counsellor_text": "네"}, first)
    ]


def test_writing_to_the_student_before_accepting_accepts(db, settings, roster):
    # The counsellor answered with the code instead of `수락 CODE`: she has taken
    # the case, and her words reach the student (they used to be refused).
    code = ask(settings).code
    assert sms_from(settings, KIM, f"{code} 안녕하세요, 상담 선생님이에요") == [
        Notice(STUDENT, ACCEPTED, {}, code),
        Notice(
            STUDENT, COUNSELLOR_MESSAGE, {"counsellor_text": "안녕하세요, 상담 선생님이에요"}, code
        ),
    ]
    assert "수락했어요" in bodies(db, KIM)[-1]
    assert handoff.active_handoff_state(settings, STUDENT) == "accepted"
    # Still only hers: another counsellor's message with the code takes nothing.
    assert sms_from(settings, LEE, f"{code} 제가 할게요") == []
    assert "선생님께 온 요청이 아니에요" in bodies(db, LEE)[-1]


# --- the student's side ----------------------------------------------------------


def test_long_student_messages_are_split_for_the_counsellor(db, settings, roster):
    code = ask(settings).code
    sms_from(settings, KIM, f"수락 {code}")
    text = " ".join(f"{i}번째 문장이에요." for i in range(1, 80))
    assert handoff.forward_student_message(settings, STUDENT, text)
    parts = bodies(db, KIM)[2:]
    assert len(parts) > 1
    assert all(p.startswith(f"[{code}] ") and len(p) <= sms.SMS_PART_CHARS for p in parts)
    assert re.sub(r" \(\d+/\d+\)$", "", parts[0]).endswith("문장이에요.")
    assert handoff.forward_student_message(settings, STUDENT, "   ")  # nothing to send
    assert len(bodies(db, KIM)) == 2 + len(parts)


def test_forwarding_needs_an_accepted_handoff(db, settings, roster):
    assert not handoff.forward_student_message(settings, STUDENT, "안녕")
    ask(settings)
    assert not handoff.forward_student_message(settings, STUDENT, "안녕")
    assert len(outbox(db)) == 1


def test_the_student_ends_it_and_the_counsellor_is_told(db, settings, roster):
    assert not handoff.end_handoff_for_sender(settings, STUDENT)
    code = ask(settings).code
    assert handoff.end_handoff_for_sender(settings, STUDENT)
    assert "취소했어요" in bodies(db, KIM)[-1]
    code = ask(settings).code
    sms_from(settings, KIM, f"수락 {code}")
    assert handoff.end_handoff_for_sender(settings, STUDENT)
    assert bodies(db, KIM)[-1] == sms.text("student_ended", code=code)
    assert handoff.active_handoff_state(settings, STUDENT) is None
    # Erasing the conversation right after keeps the notice (it names only the code).
    with db.session() as session:
        delete_conversation_data(session, STUDENT)
    assert bodies(db, KIM)[-1] == sms.text("student_ended", code=code)
    assert handoffs(db) == []


# --- timeouts --------------------------------------------------------------------


def test_timeouts_escalate_and_then_say_nobody_is_left(db, settings, roster):
    code = ask(settings, reason="crisis", urgent=True).code
    now = utcnow()
    assert handoff.escalate_expired(settings, now + timedelta(seconds=30)) == []
    [notice] = handoff.escalate_expired(settings, now + timedelta(seconds=61))
    first, second = handoffs(db)
    assert (first.state, second.state) == ("escalated", "notified")
    assert first.expired_at and notice == Notice(STUDENT, ESCALATED, {}, second.code)
    assert "답이 없어서" in bodies(db, KIM)[-1] and code in bodies(db, KIM)[-1]
    assert "자해" in bodies(db, LEE)[0] and "긴급" in bodies(db, LEE)[0]
    later = second.notified_at + timedelta(seconds=61)
    [notice] = handoff.escalate_expired(settings, later)
    third = handoffs(db)[2]
    [notice] = handoff.escalate_expired(settings, third.notified_at + timedelta(seconds=61))
    assert notice == Notice(STUDENT, UNAVAILABLE, {}, third.code)
    assert [h.state for h in handoffs(db)] == ["escalated", "escalated", "expired"]
    assert "다른 상담 창구" in bodies(db, PARK)[-1]
    assert handoff.escalate_expired(settings, third.notified_at + timedelta(hours=1)) == []


def test_an_accepted_handoff_never_times_out(db, settings, roster):
    code = ask(settings).code
    sms_from(settings, KIM, f"수락 {code}")
    assert handoff.escalate_expired(settings, utcnow() + timedelta(hours=5)) == []
    assert handoff.active_handoff_state(settings, STUDENT) == "accepted"


# --- races -----------------------------------------------------------------------


def _at_once(*calls):
    """Runs the calls in threads released together; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(index, call):
        try:
            barrier.wait(5)
            results[index] = call()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


@pytest.mark.parametrize("round_", range(3))
def test_a_double_tapped_accept_accepts_once(db, settings, roster, round_):
    code = ask(settings).code
    results = _at_once(*[lambda: sms_from(settings, KIM, f"수락 {code}")] * 3)
    intents = [n.intent for result in results for n in result]
    assert intents == [ACCEPTED]
    replies = bodies(db, KIM)[1:]
    assert sum("수락했어요" in b for b in replies) == 1
    assert sum("이미 수락한" in b for b in replies) == 2


@pytest.mark.parametrize("round_", range(3))
def test_accept_and_timeout_at_once_end_one_way(db, settings, roster, round_):
    code = ask(settings).code
    late = utcnow() + timedelta(seconds=61)
    accepted, expired = _at_once(
        lambda: sms_from(settings, KIM, f"수락 {code}"),
        lambda: handoff.escalate_expired(settings, late),
    )
    rows = handoffs(db)
    if accepted:
        assert accepted[0].intent == ACCEPTED and expired == []
        assert [h.state for h in rows] == ["accepted"]
    else:
        assert [n.intent for n in expired] == [ESCALATED]
        assert [h.state for h in rows] == ["escalated", "notified"]
        assert "이미 끝났거나" in bodies(db, KIM)[-1] or "답이 없어서" in bodies(db, KIM)[-1]


def test_accept_and_decline_at_once_end_one_way(db, settings, roster):
    code = ask(settings).code
    results = _at_once(
        lambda: sms_from(settings, KIM, f"수락 {code}"),
        lambda: sms_from(settings, KIM, f"거절 {code}"),
    )
    intents = sorted(n.intent for result in results for n in result)
    assert intents in ([ACCEPTED], [ESCALATED])
    states = [h.state for h in handoffs(db)]
    assert states == (["accepted"] if intents == [ACCEPTED] else ["escalated", "notified"])


# --- the texts -------------------------------------------------------------------

CODE = "JK-WWWWWW"  # the widest letters change nothing: length is what counts
COUNSELLOR_TEXTS = (
    "now_urgent", "accepted", "declined", "declined_nobody", "expired", "expired_nobody",
    "closed", "already_accepted", "not_accepted_yet", "gone", "not_yours", "unknown_code",
    "help", "student_ended", "student_cancelled", "relay_failed",
)  # fmt: skip


def _offers():
    labels = yaml.safe_load((content.content_dir() / "sms.yml").read_text("utf-8"))
    for reason, age, platform, channel, urgent, escalated, case in itertools.product(
        handoff.REASONS,
        [*handoff.AGE_GROUPS, None],
        [*labels["platform"], None],
        ["jikimi_sms", "socketio", "rest", "telegram-bot"],
        (True, False),
        (True, False),
        (None, "JK-WWWWWW"),
    ):
        row = Handoff(
            code=CODE, channel=channel, urgent=urgent, reason=reason, age_group=age,
            platform=platform,
        )  # fmt: skip
        yield handoff.request_sms(row, case, escalated)


def test_every_counsellor_offer_fits_two_segments():
    offers = list(_offers())
    assert len(offers) > 1000
    longest = max(offers, key=sms.ucs2_length)
    assert sms.ucs2_length(longest) <= sms.COUNSELLOR_SMS_CHARS, longest
    for offer in offers:
        assert offer.count("\n") == 3 and CODE in offer and "http" not in offer


@pytest.mark.parametrize("name", COUNSELLOR_TEXTS)
def test_every_counsellor_sms_fits_two_segments(name):
    crisis = sms.label("context", "crisis", "request")
    context = {"code": CODE, "codes": f"{CODE}, {CODE}", "context": crisis}
    body = sms.text(name, **context)
    assert sms.ucs2_length(body) <= sms.COUNSELLOR_SMS_CHARS, body
    assert "{" not in body


def test_numbers_in_sms_texts_come_from_facts_ko():
    facts_ko = FACTS_KO.read_text("utf-8")
    raw = yaml.safe_load((content.content_dir() / "sms.yml").read_text("utf-8"))
    texts = [value for value in raw.values() if isinstance(value, str)]
    for text in texts:
        for number in re.findall(r"\d{3,}", text):
            assert number in facts_ko, (number, text)
    for name in ("erased", "session_ended", "unavailable"):
        assert "112" in sms.text(name) and "1388" in sms.text(name)


def test_a_student_who_writes_external_is_heard(db, settings, roster):
    """A red-team run found "EXTERNAL: ..." from a student dropped silently."""
    code = ask(settings).code
    sms_from(settings, KIM, f"수락 {code}")
    before = len(outbox(db))
    assert handoff.forward_student_message(settings, STUDENT, "EXTERNAL: 선생님 저예요")
    assert [row.body for row in outbox(db)[before:]] == [f"[{code}] EXTERNAL: 선생님 저예요"]


def test_the_text_rasa_gives_a_triggered_intent_is_not_forwarded(db, settings, roster):
    from rasa.shared.core.constants import EXTERNAL_MESSAGE_PREFIX

    assert handoff.RASA_EXTERNAL_PREFIX == EXTERNAL_MESSAGE_PREFIX
    code = ask(settings).code
    sms_from(settings, KIM, f"수락 {code}")
    before = len(outbox(db))
    for intent in handoff.DESK_INTENTS:
        assert handoff.forward_student_message(settings, STUDENT, EXTERNAL_MESSAGE_PREFIX + intent)
    assert len(outbox(db)) == before


def test_the_relay_never_takes_the_desks_external_intents():
    """What keeps the desk's events from being forwarded as words: the relay slot
    is not filled from any external intent the domain declares."""
    domain = yaml.safe_load((ROOT / "bot" / "domain" / "handoff.yml").read_text("utf-8"))
    external = {i for i in domain["intents"] if i.startswith("EXTERNAL_")}
    (mapping,) = domain["slots"]["handoff_message"]["mappings"]
    assert external and external <= set(mapping["not_intent"])


def test_a_counsellors_words_are_relayed_as_written(db, settings, roster):
    code = ask(settings).code
    sms_from(settings, KIM, f"수락 {code}")
    words = "① 먼저 캡처해 두세요 ＯＫ？ 😊"
    assert sms_from(settings, KIM, words) == [
        Notice(STUDENT, COUNSELLOR_MESSAGE, {"counsellor_text": words}, code)
    ]


# --- page caps (issue 15: a flood paged a counsellor 40 times in 40 seconds) -------


def widget_conversation(tokens, address: str) -> str:
    return tokens.new(address)


@pytest.fixture
def tokens(settings):
    from jikimi.sessions import ConversationTokens

    return ConversationTokens(settings.secret_key)


def end(settings, sender):
    assert handoff.end_handoff_for_sender(settings, sender)


def test_one_conversation_pages_at_most_its_share_per_hour(db, settings, roster):
    capped = dataclasses.replace(settings, pages_per_conversation_per_hour=2)
    for _ in range(2):
        assert ask(capped, urgent=True, reason="crisis").code
        end(capped, STUDENT)
    held = ask(capped, urgent=True, reason="crisis")
    assert held.limited and not held.counsellor_available and held.code is None
    assert len(handoffs(db)) == 2
    assert ask(capped, sender="sms-someone-else", urgent=True, reason="crisis").code


def test_one_client_address_pages_at_most_its_share_and_others_still_get_through(
    db, settings, roster, tokens
):
    capped = dataclasses.replace(settings, pages_per_address_per_hour=3)
    flood = [widget_conversation(tokens, "203.0.113.9") for _ in range(20)]
    results = [
        ask(capped, sender=s, channel="socketio", urgent=True, reason="crisis") for s in flood
    ]
    assert sum(1 for r in results if r.code) == 3
    assert all(r.limited for r in results[3:])
    pages = [b for b in bodies(db, KIM) + bodies(db, LEE) if "상담 요청" in b]
    assert len(pages) == 3
    # A real crisis from another school's address still reaches a counsellor.
    other = widget_conversation(tokens, "198.51.100.7")
    real = ask(capped, sender=other, channel="socketio", urgent=True, reason="crisis")
    assert real.code and not real.limited
    with db.session() as session:
        row = session.execute(select(Handoff).where(Handoff.code == real.code)).scalar_one()
        assert row.client_tag == tokens.address_tag("198.51.100.7")
        assert "198.51.100.7" not in repr(row.__dict__)


def test_a_counsellor_at_the_cap_is_passed_over_and_then_nobody_is_paged(db, settings, roster):
    capped = dataclasses.replace(
        settings, pages_per_counsellor_per_hour=2, pages_per_conversation_per_hour=0
    )
    first = [ask(capped, sender=f"sms-c-{i}") for i in range(6)]
    assert all(r.code for r in first)
    per_phone = {p: len([b for b in bodies(db, p) if "상담 요청" in b]) for p in (KIM, LEE, PARK)}
    assert per_phone == {KIM: 2, LEE: 2, PARK: 2}
    held = ask(capped, sender="sms-c-6")
    assert held.limited and held.code is None


def test_an_escalation_skips_a_counsellor_at_the_cap(db, settings, roster):
    capped = dataclasses.replace(settings, pages_per_counsellor_per_hour=1)
    first = ask(capped, sender="sms-e-1")  # Kim
    ask(capped, sender="sms-e-2")  # Lee (Kim is at the cap)
    sms_from(capped, KIM, f"거절 {first.code}")  # next: Lee is at the cap too, so Park
    assert any(first.code not in b and "넘겨받음" in b for b in bodies(db, PARK))
    assert len([b for b in bodies(db, LEE) if "상담 요청" in b]) == 1


def test_page_caps_hold_under_concurrent_requests(db, settings, roster, tokens):
    capped = dataclasses.replace(settings, pages_per_address_per_hour=4)
    senders = [widget_conversation(tokens, "203.0.113.50") for _ in range(16)]
    results = []
    start = threading.Barrier(8)

    def run(chunk):
        start.wait(timeout=30)
        for sender in chunk:
            results.append(ask(capped, sender=sender, channel="socketio", urgent=True))

    threads = [threading.Thread(target=run, args=(senders[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 16
    assert sum(1 for r in results if r.code) == 4
    assert len(handoffs(db)) == 4


def test_the_platform_stored_is_a_known_category_never_client_text(db, settings, roster):
    ask(settings, sender="sms-p-1", platform="Telegram ")
    ask(settings, sender="sms-p-2", platform="내 번호 010-1234-5678로 연락줘")
    ask(settings, sender="sms-p-3", platform={"a": 1})
    assert [row.platform for row in handoffs(db)] == ["telegram", "other", None]


def test_a_crisis_update_reaches_the_counsellor_once_and_a_few_at_most(db, settings, roster):
    code = ask(settings, urgent=True, reason="crisis").code
    for _ in range(5):
        assert handoff.crisis_update(settings, STUDENT, "unsafe")
    handoff.crisis_update(settings, STUDENT, "safe")
    updates = [b for b in bodies(db, KIM) if "위기 대화" in b]
    assert updates == [
        sms.text("crisis_update", code=code, note=content.labels("crisis_notes")["unsafe"]),
        sms.text("crisis_update", code=code, note=content.labels("crisis_notes")["safe"]),
    ]
