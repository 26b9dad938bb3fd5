"""One whole conversation over KakaoTalk, through the real stack
(tests/support/kakao_stack.py) and a fake Kakao i Open Builder and event API: a
student greets the bot, makes a report, is handed to a counsellor who answers
by SMS, reads the counsellor's words in KakaoTalk, and erases everything.

The wording of the dialogue is changing (docs/conversation.md); this asserts
what stays: every message is answered within Open Builder's time limit and
format, the report form is driven by the question it asks (the tracker's
`requested_slot`), the case is stored, hotline numbers are given, the
counsellor's words arrive as written, and "삭제" leaves nothing behind."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from sqlalchemy import select

from jikimi.db import (
    CODE_PATTERN,
    Case,
    Handoff,
    KakaoContact,
    OutboxMessage,
    sender_hash,
    session_scope,
)
from jikimi.kakao import SKILL_TIMEOUT_S
from tests.support.kakao_stack import kakao_stack

LINK = "https://t.me/+Zx9QkLmN0pQr"
STORY = "반 친구들이 제 사진으로 합성한 걸 단톡방에 돌려봐요"
# An answer to each question of the report form, by the slot it asks for.
ANSWERS = {
    "report_age": ["중2예요"],
    "report_platform": ["텔레그램"],
    "report_when": ["어제"],
    "report_online": ["아직 있어요"],
    "report_relation": ["같은 학교 친구예요"],
    "report_link": [LINK, "다 보냈어요"],
    "report_description": [STORY],
    "report_confirm": ["네 맞아요"],
}
COUNSELLOR_WORDS = "안녕하세요, 상담 선생님이에요. 천천히 이야기해 주세요."


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with kakao_stack(tmp_path_factory.mktemp("kakao-conversation")) as running:
        yield running


class Student:
    """A KakaoTalk user of the fake Open Builder; every answer checked for time."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.user = "bu" + secrets.token_hex(16)

    def say(self, text: str):
        answer = self.stack.kakao.say(self.user, text)
        assert answer.status == 200, answer
        assert answer.elapsed < SKILL_TIMEOUT_S and not answer.uses_callback
        return answer

    @property
    def sender(self) -> str:
        return self.stack.sender_of(self.user)

    def tracker(self) -> dict:
        return self.stack.tracker(self.sender)

    def seen(self) -> str:
        return "\n".join(b.text for b in self.stack.kakao.chat(self.user))


def case_of(stack, sender: str):
    with session_scope(stack.settings) as session:
        return session.execute(
            select(Case.code, Case.platform, Case.minor).where(
                Case.sender_hash == sender_hash(session, sender)
            )
        ).first()


def make_report(stack, student: Student) -> None:
    """Starts the report and answers whatever question the form asks, until
    the case is saved (the form's questions may change order or wording)."""
    asked = {slot: 0 for slot in ANSWERS}
    answer = student.say("신고하고 싶어요")
    for _ in range(25):
        if case_of(stack, student.sender) is not None:
            return
        tracker = student.tracker()
        slot = (tracker.get("slots") or {}).get("requested_slot")
        loop = (tracker.get("active_loop") or {}).get("name")
        if loop == "report_form" and slot in ANSWERS:
            options = ANSWERS[slot]
            text = options[min(asked[slot], len(options) - 1)]
            asked[slot] += 1
            answer = student.say(text)
        elif loop == "report_form":
            answer = student.say("건너뛸래요")
        else:
            offered = [t for t in stack.kakao.offered(student.user) if "신고" in t]
            answer = student.say(offered[0] if offered else "신고할래요")
        assert answer.texts or loop == "report_form", "the bot said nothing"
    raise AssertionError(f"the report was never saved; the student saw:\n{student.seen()[-1500:]}")


def test_a_kakaotalk_conversation_from_greeting_to_deletion(stack):
    kakao, twilio = stack.kakao, stack.twilio
    counsellor = stack.counsellors[0]
    student = Student(stack)

    # Greeting: an answer, with choices to tap.
    greeting = student.say("안녕")
    assert greeting.texts and greeting.quick_replies

    # The report, to the saved case.
    make_report(stack, student)
    code, platform, minor = case_of(stack, student.sender)
    assert platform == "telegram" and minor is True
    assert code in student.seen()  # the student is given the case's code

    # A counsellor: asked by SMS, with the channel and no private detail.
    offer, answers = stack.ask_for_counsellor(student.user)
    assert all(a.elapsed < SKILL_TIMEOUT_S for a in answers)
    said = " ".join(t for a in answers for t in a.texts)
    assert re.search(r"1388|1366|112", said)  # numbers to call meanwhile
    handoff_code = CODE_PATTERN.findall(offer)[0]
    assert "카카오톡" in offer and LINK not in offer and "단톡방" not in offer

    # Accepted by SMS: the student is told in KakaoTalk through the event API.
    shown = len(kakao.chat(student.user))
    stack.counsellor_sms(counsellor, f"수락 {handoff_code}")
    accepted = kakao.wait_for(
        lambda: [b for b in kakao.chat(student.user)[shown:] if b.source == "event"],
        what="the acceptance in KakaoTalk",
    )
    assert accepted

    # The counsellor's words arrive as written, marked as a person's, once.
    stack.counsellor_sms(counsellor, COUNSELLOR_WORDS)
    relayed = kakao.wait_for_text(student.user, COUNSELLOR_WORDS)
    assert relayed.text == f"상담 선생님: {COUNSELLOR_WORDS}"
    assert sum(COUNSELLOR_WORDS in b.text for b in kakao.chat(student.user)) == 1

    # The student's answer reaches the counsellor.
    student.say("고마워요. 무서웠어요")
    twilio.wait_for_message(counsellor, f"[{handoff_code}] 고마워요. 무서웠어요")

    # Nothing shows the bot user key: not the tracker, not the logs.
    sender = student.sender
    assert student.user not in json.dumps(student.tracker(), ensure_ascii=False)
    assert student.user not in stack.logs()

    # "삭제": everything about the conversation is gone, the counsellor is told.
    before = len(twilio.to(counsellor))
    erased = student.say("삭제")
    assert re.search(r"112|1388", erased.texts[0])
    twilio.wait_for_message(counsellor, handoff_code, after=before)
    with session_scope(stack.settings) as session:
        assert case_of(stack, sender) is None
        assert session.get(KakaoContact, sender) is None
        assert session.execute(select(Handoff).where(Handoff.code == handoff_code)).first() is None
        hashed = sender_hash(session, sender)
        assert (
            session.execute(
                select(OutboxMessage).where(OutboxMessage.sender_hash == hashed)
            ).first()
            is None
        )
    assert [e for e in stack.tracker(sender)["events"] if e["event"] == "user"] == []

    # Every answer kept Open Builder's format and limits, and its time.
    assert kakao.violations == []
    times = sorted(a.elapsed for a in kakao.skill_answers)
    print(
        f"\n{len(times)} skill requests: median {times[len(times) // 2] * 1000:.0f} ms, "
        f"slowest {times[-1] * 1000:.0f} ms"
    )
    assert times[-1] < SKILL_TIMEOUT_S
