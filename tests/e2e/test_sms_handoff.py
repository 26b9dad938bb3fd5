"""Handoff to a counsellor by SMS, end to end: the real Rasa server, action server
and desk service (`jikimi run`), twilio's real client sending to the fake Twilio,
inbound SMS signed with twilio's RequestValidator.

Students write by SMS (through the desk) or on the web widget's socket.io
channel; counsellors only ever by SMS. What each side receives is read where a
phone would get it: the fake Twilio's messages, or the socket.io events."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import secrets
import time
from typing import Iterator, List

import pytest
import requests
from sqlalchemy import select

from jikimi import content
from jikimi.db import (
    CODE_PATTERN,
    Counsellor,
    Handoff,
    OutboxMessage,
    SmsContact,
    counsellor_by_phone,
    keyring_for,
    session_scope,
)
from tests.e2e.conftest import HANDOFF_TIMEOUT_S, counsellors_on_call

ASK = "상담 선생님이랑 얘기하고 싶어요"


def first_words(text: str, n: int = 4) -> str:
    return " ".join(text.split()[:n])


class Phone:
    """A phone texting the service number: signed webhooks in, the fake Twilio out."""

    def __init__(self, stack, number: str) -> None:
        self.stack = stack
        self.number = number
        self.read = 0  # messages to this phone already looked at

    def text(self, body: str) -> None:
        answer = self.stack.twilio.inbound(self.stack.desk_url, self.number, body)
        assert answer.status_code == 200, answer.text
        assert answer.text.startswith("<?xml") and "<Response></Response>" in answer.text

    def receive(self, contains: str, timeout: float = 90.0) -> str:
        """The next SMS to this phone containing `contains` (earlier ones are skipped)."""

        def found(messages):
            mine = [m for m in messages if m.to == self.number]
            for index in range(self.read, len(mine)):
                if contains in mine[index].body:
                    return index + 1, mine[index].body
            return None

        self.read, body = self.stack.twilio.wait_for(
            found, timeout, f"an SMS to {self.number[:6]}... containing {contains!r}"
        )
        return body

    def all(self) -> List[str]:
        return [m.body for m in self.stack.twilio.to(self.number)]


def ask(student: "Phone") -> None:
    """Asks for a counsellor and says yes to the offer: Jikimi offers first, with
    what it means, and pages nobody before a yes."""
    student.text(ASK)
    student.receive("연결해 줄까요")
    student.text("네")


def new_student(stack) -> Phone:
    return Phone(stack, "+8210" + "".join(secrets.choice("0123456789") for _ in range(8)))


def counsellor(stack, index: int = 0) -> Phone:
    phone = Phone(stack, stack.counsellors[index])
    phone.read = len(phone.all())
    return phone


def offer_code(body: str) -> str:
    return CODE_PATTERN.search(body).group(0)


def wait_for_event(stack, sender_id: str, predicate, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in stack.tracker(sender_id)["events"]:
            if predicate(event):
                return event
        time.sleep(0.5)
    raise AssertionError(f"no such event in {sender_id}'s tracker")


def sms_sender(stack, phone: Phone) -> str:
    with session_scope(stack.settings) as session:
        digest = keyring_for(session).digest(phone.number)
        return session.execute(
            select(SmsContact.sender_id).where(SmsContact.phone_hash == digest)
        ).scalar_one()


def handoff_state(stack, code: str) -> str:
    with session_scope(stack.settings) as session:
        return session.execute(select(Handoff.state).where(Handoff.code == code)).scalar_one()


@contextlib.contextmanager
def nobody_on_call(stack) -> Iterator[None]:
    with session_scope(stack.settings) as session:
        for phone in stack.counsellors:
            counsellor_by_phone(session, phone).active = False
    try:
        yield
    finally:
        with session_scope(stack.settings) as session:
            for row in session.execute(select(Counsellor)).scalars():
                row.active = True


# --- the whole scenario by SMS ---------------------------------------------------


def test_sms_student_and_counsellor_talk_through_the_service_number(stack):
    student, kim = new_student(stack), counsellor(stack)
    ask(student)
    offer = kim.receive("상담 요청")
    code = offer_code(offer)
    assert "문자" in offer and f"수락 {code}" in offer and len(offer) <= 134
    assert student.number not in offer and student.number[-4:] not in offer
    requested = content.message("handoff_requested", minutes=1).text
    student.receive(first_words(requested))

    kim.text(f"수락 {code}")
    kim.receive(f"{code} 수락했어요")
    student.receive(first_words(content.message("handoff_accepted").text))

    kim.text("안녕하세요, 상담 선생님이에요. 천천히 이야기해 주세요.")
    assert student.receive("상담 선생님:") == (
        "상담 선생님: 안녕하세요, 상담 선생님이에요. 천천히 이야기해 주세요."
    )

    student.text("반 친구들이 제 사진으로 합성한 걸 돌려봐요")
    assert kim.receive(f"[{code}]") == f"[{code}] 반 친구들이 제 사진으로 합성한 걸 돌려봐요"

    kim.text(f"종료 {code}")
    kim.receive(f"{code} 상담을 끝냈어요")
    student.receive(first_words(content.message("handoff_closed_by_counsellor").text))
    assert handoff_state(stack, code) == "closed"

    # The bot answers again.
    student.text("딥페이크가 뭐야")
    lesson = content.lesson("ask_what_is_deepfake", "student", 0)[0].text
    student.receive(first_words(lesson, 3))

    # Nobody saw anybody's number: the tracker knows an opaque id only.
    sender_id = sms_sender(stack, student)
    assert sender_id.startswith("sms-")
    dump = json.dumps(stack.tracker(sender_id), ensure_ascii=False)
    assert student.number not in dump and student.number[3:] not in dump
    assert kim.number not in dump and kim.number[3:] not in dump
    assert all(kim.number[-4:] not in body for body in student.all())
    # ...and the logs hold neither the numbers nor what was said.
    log = stack.log.read_text(errors="replace")
    for private in (student.number, student.number[3:], kim.number[3:], "반 친구들이", "천천히"):
        assert private not in log, private


def test_the_sms_channel_answers_only_the_desk(stack):
    url = f"{stack.rasa_url}/webhooks/jikimi_sms/webhook"
    body = {"sender": "sms-made-up", "message": "안녕"}
    assert requests.post(url, json=body, timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.post(url, json=body, headers=wrong, timeout=30).status_code == 401
    right = {"Authorization": f"Bearer {stack.token}"}
    # A sender the desk never made (or one erased): nobody to text back.
    assert requests.post(url, json=body, headers=right, timeout=30).status_code == 404
    assert requests.post(url, data="nope", headers=right, timeout=30).status_code == 400


def test_numbered_choices_work_over_sms(stack):
    student = new_student(stack)
    student.text("안녕")
    menu = student.receive("1. ")
    titles = dict(re.findall(r"^(\d)\. (.+)$", menu, re.M))
    assert titles["1"] and "(번호로 답할 수 있어요)" in menu
    choice = next(number for number, title in titles.items() if title == "법은 어떻게 돼요?")
    student.text(choice)
    student.receive("범죄예요")


def test_erase_keyword_over_sms(stack):
    student, kim = new_student(stack), counsellor(stack)
    ask(student)
    code = offer_code(kim.receive("상담 요청"))
    sender_id = sms_sender(stack, student)
    student.text("삭제")
    student.receive("모두 지웠어요")
    kim.receive(f"{code} 학생이 요청을 취소했어요")
    with session_scope(stack.settings) as session:
        assert session.get(SmsContact, sender_id) is None
        assert session.execute(select(Handoff).where(Handoff.code == code)).first() is None
    events = [e for e in stack.tracker(sender_id)["events"] if e["event"] == "user"]
    assert events == []  # the Restarted event erased the stored conversation


# --- a web student over socket.io ------------------------------------------------


class WebStudent:
    """The widget's side of socket.io: session_request, user_uttered, bot_uttered."""

    def __init__(self, stack) -> None:
        import socketio

        self.inbox: "queue.Queue[dict]" = queue.Queue()
        self.client = socketio.Client()
        confirmed = queue.Queue()
        self.client.on("bot_uttered", self.inbox.put)
        self.client.on("session_confirm", confirmed.put)
        self.client.connect(stack.rasa_url, socketio_path="socket.io", wait_timeout=30)
        # The server names the conversation and signs a token for it.
        self.client.emit("session_request", {"session_id": None})
        self.session_id = confirmed.get(timeout=30)
        self.sender_id = self.session_id.rsplit(".", 1)[0]

    def say(self, text: str) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def receive(self, predicate, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such bot message; got {seen}")
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(message)
            if predicate(message):
                return message

    def receive_text(self, contains: str) -> str:
        return self.receive(lambda m: contains in (m.get("text") or ""))["text"]

    def close(self) -> None:
        self.client.disconnect()


def test_web_student_and_sms_counsellor(stack):
    web, kim = WebStudent(stack), counsellor(stack)
    try:
        web.say(ASK)
        web.receive_text("연결해 줄까요")
        web.say("네")
        web.receive_text(first_words(content.message("handoff_requested", minutes=1).text))
        offer = kim.receive("상담 요청")
        code = offer_code(offer)
        assert "웹 채팅" in offer

        kim.text(f"수락 {code}")
        web.receive_text(first_words(content.message("handoff_accepted").text))
        kim.text(f"{code} 반가워요. 무슨 일이 있었는지 편하게 말해 주세요.")
        said = web.receive(lambda m: "반가워요" in json.dumps(m, ensure_ascii=False))
        # The widget gets the counsellor's words marked as a person's (custom JSON).
        payload = said.get("custom") or said.get("data") or said
        assert payload == {
            "from_counsellor": True,
            "text": "반가워요. 무슨 일이 있었는지 편하게 말해 주세요.",
        }

        web.say("단톡방에 제 얼굴 합성 사진이 올라왔어요")
        assert kim.receive(f"[{code}]").endswith("단톡방에 제 얼굴 합성 사진이 올라왔어요")

        kim.text(f"종료 {code}")
        web.receive_text(first_words(content.message("handoff_closed_by_counsellor").text))
        web.say("법은 어떻게 돼?")
        web.receive_text("범죄예요")
    finally:
        web.close()


# --- when things go wrong --------------------------------------------------------


def test_decline_passes_the_request_to_the_next_counsellor(stack):
    kim, lee = counsellor(stack, 0), counsellor(stack, 1)
    student = new_student(stack)
    ask(student)
    code = offer_code(kim.receive("상담 요청"))
    kim.text(f"거절 {code}")
    kim.receive(f"{code} 거절했어요")
    offer = lee.receive("넘겨받음")
    second = offer_code(offer)
    assert second != code
    student.receive("다른 선생님께 다시 요청했어요")
    lee.text(f"수락 {second}")
    student.receive(first_words(content.message("handoff_accepted").text))
    lee.text(f"종료 {second}")
    student.receive(first_words(content.message("handoff_closed_by_counsellor").text))


def test_timeouts_escalate_then_say_nobody_is_left(stack):
    kim, lee = counsellor(stack, 0), counsellor(stack, 1)
    student = new_student(stack)
    ask(student)
    first = offer_code(kim.receive("상담 요청"))
    second = offer_code(lee.receive("넘겨받음", timeout=HANDOFF_TIMEOUT_S * 6))
    kim.receive(f"{first} 제한 시간 안에 답이 없어서")
    student.receive("다른 선생님께 다시 요청했어요")
    lee.receive(f"{second} 제한 시간 안에 답이 없었어요", timeout=HANDOFF_TIMEOUT_S * 6)
    student.receive("지금은 답할 수 있는 상담 선생님이 없어요")
    replies = " ".join(student.all())
    for number in ("1388", "112", "1366"):
        assert number in replies, number


def test_nobody_on_call_is_said_plainly(stack):
    student = new_student(stack)
    with nobody_on_call(stack):
        ask(student)
        reply = student.receive(first_words(content.message("handoff_nobody").text))
    replies = " ".join(student.all())
    for number in ("1388", "1366", "112"):
        assert number in replies, number
    assert reply


def test_twilio_down_for_a_while_then_every_sms_arrives_once(stack):
    kim, student = counsellor(stack), new_student(stack)
    twilio = stack.twilio
    failures_before = sum(r["status"] == 500 for r in twilio.requests)
    twilio.down(500)
    try:
        # The offer cannot arrive while Twilio is down; the yes is read in order.
        student.text(ASK)
        student.text("네")
        twilio.wait_for(
            lambda _: sum(r["status"] == 500 for r in twilio.requests) >= failures_before + 3,
            what="failed attempts while Twilio is down",
        )
    finally:
        twilio.up()
    code = offer_code(kim.receive("상담 요청"))
    student.receive(first_words(content.message("handoff_requested", minutes=1).text))

    def ours(recipient: str, body: str) -> bool:
        return recipient == student.number or code in body

    def settled(_messages):
        with session_scope(stack.settings) as session:
            rows = session.execute(select(OutboxMessage)).scalars().all()
            mine = [r for r in rows if ours(r.recipient, r.body)]
            return mine if mine and all(r.status == "sent" for r in mine) else None

    rows = twilio.wait_for(settled, what="the outbox to be sent")
    assert any(r.attempts > 1 for r in rows)  # they were tried while Twilio was down
    sids = [r.provider_id for r in rows]
    delivered = [m.sid for m in twilio.messages if ours(m.to, m.body)]
    assert sorted(delivered) == sorted(sids)  # every one, none twice
    assert sum(code in body and "상담 요청" in body for body in kim.all()) == 1
    kim.text(f"거절 {code}")  # leave no handoff waiting for the next test


def test_bad_signature_changes_nothing(stack):
    phone = new_student(stack).number
    for options in ({"signature": ""}, {"token": "wrong"}, {"public_url": "http://evil.test"}):
        answer = stack.twilio.inbound(stack.desk_url, phone, ASK, **options)
        assert answer.status_code == 403
    with session_scope(stack.settings) as session:
        digest = keyring_for(session).digest(phone)
        assert (
            session.execute(select(SmsContact).where(SmsContact.phone_hash == digest)).first()
            is None
        )
    assert stack.twilio.to(phone) == []


def test_unknown_code_gets_the_commands(stack):
    kim = counsellor(stack)
    kim.text("수락 JK-ZZZZZZ")
    kim.receive("JK-ZZZZZZ 요청을 찾지 못했어요")
    kim.text("네 확인했습니다")
    kim.receive("답장 방법")


def test_a_strangers_number_texting_a_code_is_treated_as_a_student(stack):
    kim, student, stranger = counsellor(stack), new_student(stack), new_student(stack)
    ask(student)
    code = offer_code(kim.receive("상담 요청"))
    stranger.text(f"수락 {code}")
    assert stranger.receive("")  # the bot answers the stranger like anyone else
    assert handoff_state(stack, code) == "notified"
    assert all("연결됐어요" not in body for body in student.all())
    kim.text(f"거절 {code}")


@pytest.fixture(scope="module", autouse=True)
def _counsellors(stack):
    with counsellors_on_call(stack):
        yield


@pytest.fixture(autouse=True)
def _no_accepted_handoffs_left(stack):
    """Free text from a counsellor relays only with one accepted handoff: each
    test leaves none behind."""
    yield
    with session_scope(stack.settings) as session:
        for row in session.execute(select(Handoff).where(Handoff.state == "accepted")).scalars():
            row.state = "closed"
