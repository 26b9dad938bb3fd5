"""Issue 15, item 4: PostgreSQL down, and back.

Before: Rasa fell back to an empty in-memory tracker store without a word:
mid-form answers got "미안해요, 그건 제가 도와드릴 수 없어요", the summary
confirmation got the main menu, a counsellor's SMS got a 500 and was lost, and
the student's relayed message was lost.

Now the student hears plainly that Jikimi cannot answer right now, with the
hotlines (after the crisis reply when there is danger); the widget sends the
message again until it is handled, and the conversation goes on where it was;
SMS that arrive meanwhile are answered by Twilio itself (TwiML) and kept in the
desk's journal, then acted on once each when PostgreSQL is back.
"""

from __future__ import annotations

import os
import re
import time

import requests
from sqlalchemy import func, select

from jikimi import content, sms
from jikimi.db import (
    Case,
    Handoff,
    SmsContact,
    keyring_for,
    normalise_phone,
    sender_hash,
    session_scope,
)
from jikimi.desk.sms import journal_dir
from tests.faults.helpers import COUNSELLORS, Widget

OUTAGE = content.message("outage").text
CRISIS = "요즘 너무 힘들어서 죽고 싶어"
# What a student answers to each question of the report form, by the slot it fills.
ANSWERS = {
    "report_age": "중2예요",
    "report_platform": "텔레그램",
    "report_when": "어제",
    "report_online": "아직 있어요",
    "report_relation": "같은 학교 친구예요",
    "report_description": "같은 반 친구가 제 사진으로 합성물을 만들어서 단톡방에 올렸어요",
    "report_confirm": "맞아요, 저장해 주세요",
}
CODE = re.compile(r"JK-[2-9A-HJ-NP-Z]{6}")


def tracker(stack, sender_id: str) -> dict:
    answer = requests.get(
        f"{stack.rasa_url}/conversations/{sender_id}/tracker",
        params={"token": stack.token, "include_events": "ALL"},
        timeout=60,
    )
    answer.raise_for_status()
    return answer.json()


def asked(stack, sender_id: str):
    return tracker(stack, sender_id)["slots"].get("requested_slot")


def user_texts(stack, sender_id: str):
    return [e.get("text") for e in tracker(stack, sender_id)["events"] if e["event"] == "user"]


def wait_for(predicate, timeout: float = 120, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def cases_of(stack, sender_id: str) -> int:
    with session_scope(stack.settings) as session:
        return session.execute(
            select(func.count(Case.id)).where(Case.sender_hash == sender_hash(session, sender_id))
        ).scalar_one()


def answer_until(stack, widget: Widget, last_slot: str) -> None:
    """Answers the report form's questions until it asks `last_slot`."""
    for _ in range(15):
        slot = asked(stack, widget.sender_id)
        if slot == last_slot:
            return
        widget.send_until_handled(ANSWERS.get(slot, "건너뛸래요"))
    raise AssertionError(f"the form never asked {last_slot}")


def test_postgres_down_mid_form_and_at_the_confirmation(healthy):
    stack = healthy
    widget = Widget(stack, address="198.51.100.21")
    try:
        widget.send_until_handled("/greet")
        widget.send_until_handled("/start_report")
        answer_until(stack, widget, "report_platform")
        widget.drain()

        # Mid-form: the answer to "어디에서" while PostgreSQL is down.
        stack.postgres.kill()
        ack = widget.send(ANSWERS["report_platform"])
        assert ack == {"ok": False, "retry_in": 15}
        said = widget.drain(1)
        assert said == [OUTAGE], said
        assert not any("도와드릴 수 없어요" in text for text in said)
        stack.postgres.start()
        assert widget.send_until_handled(ANSWERS["report_platform"]) >= 1
        # The form went on from where it was: the platform is answered once.
        assert asked(stack, widget.sender_id) not in (None, "report_platform")
        assert tracker(stack, widget.sender_id)["slots"].get("report_platform") == "telegram"
        assert user_texts(stack, widget.sender_id).count(ANSWERS["report_platform"]) == 1

        # At the confirmation: "save it" while PostgreSQL is down.
        answer_until(stack, widget, "report_confirm")
        widget.drain()
        stack.postgres.kill()
        ack = widget.send(ANSWERS["report_confirm"])
        assert ack.get("ok") is False
        assert widget.drain(1) == [OUTAGE]
        stack.postgres.start()
        widget.send_until_handled(ANSWERS["report_confirm"])
        said = "\n".join(widget.drain(3))
        codes = set(CODE.findall(said))
        assert len(codes) == 1, said  # saved, and its code told once
        assert cases_of(stack, widget.sender_id) == 1, "one case, not two"
    finally:
        widget.close()


def test_a_crisis_message_while_postgres_is_down_gets_the_crisis_reply_first(healthy):
    stack = healthy
    widget = Widget(stack, address="198.51.100.22")
    try:
        widget.send_until_handled("/greet")
        widget.drain()
        pages_before = len([m for m in stack.twilio.messages if m.to in COUNSELLORS])
        stack.postgres.kill()
        assert widget.send(CRISIS).get("ok") is False
        said = widget.drain(2)
        assert len(said) == 2 and "109" in said[0] and said[1] == OUTAGE, said
        stack.postgres.start()
        widget.send_until_handled(CRISIS)
        # Handled once storage is back: the crisis reply again, and one page.
        assert any("109" in text for text in widget.drain(3))
        stack.twilio.wait_for(
            lambda ms: len([m for m in ms if m.to in COUNSELLORS]) > pages_before,
            timeout=60, what="the counsellor's page",
        )  # fmt: skip
        time.sleep(2)
        pages = [m for m in stack.twilio.messages if m.to in COUNSELLORS][pages_before:]
        assert len([m for m in pages if "상담 요청" in m.body]) == 1, [m.body for m in pages]
    finally:
        widget.close()


def sms_sender_of(stack, phone: str) -> str:
    with session_scope(stack.settings) as session:
        digest = keyring_for(session).digest(normalise_phone(phone))
        return session.execute(
            select(SmsContact.sender_id).where(SmsContact.phone_hash == digest)
        ).scalar_one()


def test_postgres_down_mid_handoff_loses_no_sms_and_sends_none_twice(healthy):
    from jikimi import handoff

    stack = healthy
    student = "+8210" + str(int.from_bytes(os.urandom(3), "big") % 10**8).zfill(8)
    counsellor = COUNSELLORS[0]
    twilio = stack.twilio
    assert stack.sms(student, "안녕하세요").status_code == 200
    twilio.wait_for_message(student, timeout=120)
    sender_id = sms_sender_of(stack, student)
    request = handoff.request_handoff(
        stack.settings, sender_id=sender_id, channel="jikimi_sms", urgent=False
    )
    twilio.wait_for_message(counsellor, contains=request.code, timeout=60)
    assert stack.sms(counsellor, f"수락 {request.code}").status_code == 200
    twilio.wait_for_message(student, contains="상담 선생님", timeout=120)
    with session_scope(stack.settings) as session:
        state = session.execute(
            select(Handoff.state).where(Handoff.code == request.code)
        ).scalar_one()
    assert state == "accepted"
    to_student, to_counsellor = len(twilio.to(student)), len(twilio.to(counsellor))

    stack.postgres.kill()
    words, reply = "괜찮아요, 천천히 말해 줘요", "선생님 저 사실 너무 무서워요"
    for phone, body in ((counsellor, words), (student, reply)):
        answer = stack.sms(phone, body)
        assert answer.status_code == 200
        assert "<Message>" in answer.text and "112" in answer.text, answer.text
        assert sms.text("outage").split(".")[0] in answer.text
    journal = journal_dir(stack.settings)
    assert len(list(journal.glob("*.sms"))) == 2
    stack.postgres.start()

    relayed = twilio.wait_for_message(student, contains=words, after=to_student, timeout=120)
    forwarded = twilio.wait_for_message(
        counsellor, contains=reply, after=to_counsellor, timeout=120
    )
    assert relayed.body.startswith("상담 선생님")
    assert forwarded.body.startswith(f"[{request.code}]")
    time.sleep(3)  # nothing more comes
    assert [m.body for m in twilio.to(student)[to_student:]].count(relayed.body) == 1
    assert [m.body for m in twilio.to(counsellor)[to_counsellor:]].count(forwarded.body) == 1
    assert not list(journal.glob("*.sms"))
    assert not any("EXTERNAL" in m.body for m in twilio.to(counsellor))
    handoff.end_handoff_for_sender(stack.settings, sender_id)
