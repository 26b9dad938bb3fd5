"""The desk's SMS gateway as a real process (`jikimi serve desk`): POST /sms/inbound
signed with twilio's RequestValidator, the outbox dispatcher sending to the fake
Twilio, the escalation sweep, and the calls the desk makes to Rasa's HTTP API,
received here by a small fake Rasa server that records them.

The real Rasa server is in tests/e2e/test_sms_handoff.py; here the desk alone is
checked: who is routed where, what changes in the database, what is refused."""

from __future__ import annotations

import json
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from jikimi import handoff, sms
from jikimi.db import (
    Handoff,
    OutboxMessage,
    SmsContact,
    add_counsellor,
    dispose_engines,
    session_scope,
    sms_sender_id,
    upgrade,
    utcnow,
)
from jikimi.desk.sms import EMPTY_TWIML
from jikimi.settings import Settings, load_settings
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import ROOT, serve, stack_env, stop, urls

COUNSELLOR, SECOND = "+821011112222", "+821033334444"
TIMEOUT_S = 3


class FakeRasa:
    """Records what the desk posts to Rasa; `status` is what it answers."""

    def __init__(self) -> None:
        self.calls: List[Dict] = []
        self.status = 200
        self.next_statuses: List[int] = []  # answered first, one per request
        self._lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with fake._lock:
                    fake.calls.append(
                        {
                            "path": url.path,
                            "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                            "auth": self.headers.get("Authorization"),
                            "json": body,
                            "fields": body if isinstance(body, dict) else {},
                        }
                    )
                    fake._lock.notify_all()
                    status = fake.next_statuses.pop(0) if fake.next_statuses else fake.status
                data = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def wait_for(self, predicate, timeout=30.0, what=""):
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self.calls if predicate(c)]
                if found:
                    return found
                if time.monotonic() > deadline:
                    raise AssertionError(f"fake Rasa: no {what}; got {self.calls[-5:]}")
                self._lock.wait(0.2)

    def triggers(self, sender_id: str) -> List[str]:
        with self._lock:
            return [
                c["json"]["name"]
                for c in self.calls
                if c["path"] == f"/conversations/{sender_id}/trigger_intent"
            ]


@dataclass
class Desk:
    url: str
    settings: object
    twilio: FakeTwilio
    rasa: FakeRasa
    log: Path

    def text(self, phone: str, body: str, **options) -> requests.Response:
        return self.twilio.inbound(self.url, phone, body, **options)

    def session(self):
        return session_scope(self.settings)


@contextmanager
def start_desk(tmp: Path, env_extra: Dict[str, str]) -> Iterator[Tuple[str, Settings, Path]]:
    """`jikimi serve desk` on a free port over a new SQLite database; yields its
    URL, settings and log, and checks that Ctrl-C stops it."""
    url = f"sqlite:///{tmp / 'jikimi.db'}"
    upgrade(url)
    env = stack_env(
        tmp,
        JIKIMI_DATABASE_URL=url,
        JIKIMI_HANDOFF_TIMEOUT_S=str(TIMEOUT_S),
        JIKIMI_SMS_RETRY_S="1",
        **env_extra,
    )
    env["JIKIMI_PUBLIC_URL"] = urls(env)["desk"]
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        if name not in env_extra:
            env.pop(name, None)
    settings = load_settings(environ=env, root=ROOT)
    try:
        with serve("desk", env, tmp) as desk:
            yield desk.url, settings, desk.log
            assert stop(desk.process), f"the desk ignored Ctrl-C:\n{desk.output()[-3000:]}"
    finally:
        import shutil

        from jikimi.desk.sms import journal_dir

        shutil.rmtree(journal_dir(settings), ignore_errors=True)  # var/ is shared


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("desk")
    rasa = FakeRasa()
    with FakeTwilio() as twilio:
        try:
            with start_desk(tmp, {**twilio.env(), "JIKIMI_RASA_PORT": str(rasa.port)}) as (
                url,
                settings,
                log,
            ):
                with session_scope(settings) as session:
                    add_counsellor(session, "김상담", COUNSELLOR, priority=1)
                    add_counsellor(session, "이상담", SECOND, priority=2)
                yield Desk(url, settings, twilio, rasa, log)
        finally:
            rasa.server.shutdown()
            dispose_engines()


def contacts(desk) -> List[str]:
    with desk.session() as session:
        return [c.sender_id for c in session.execute(select(SmsContact)).scalars()]


def request(desk, student: str, channel: str = "jikimi_sms", urgent: bool = False) -> str:
    """A handoff for `student` as the action server asks for one; its code."""
    return handoff.request_handoff(
        desk.settings, sender_id=student, channel=channel, urgent=urgent
    ).code


def sender_of(desk, phone: str) -> str:
    with desk.session() as session:
        return sms_sender_id(session, phone, utcnow())


def new_phone() -> str:
    return "+8210" + "".join(secrets.choice("0123456789") for _ in range(8))


def state(desk, code: str) -> str:
    with desk.session() as session:
        return session.execute(select(Handoff.state).where(Handoff.code == code)).scalar_one()


# --- signatures ------------------------------------------------------------------


@pytest.mark.parametrize(
    "how", ["missing", "wrong token", "another URL", "garbage", "tampered body"]
)
def test_unsigned_or_badly_signed_requests_are_refused_and_change_nothing(desk, how):
    phone = new_phone()
    before_calls, before_contacts = len(desk.rasa.calls), contacts(desk)
    if how == "missing":
        answer = desk.text(phone, "안녕", signature="")
    elif how == "wrong token":
        answer = desk.text(phone, "안녕", token="not-the-token")
    elif how == "another URL":
        answer = desk.text(phone, "안녕", public_url="https://evil.example.org")
    elif how == "garbage":
        answer = desk.text(phone, "안녕", signature="c2lnbmF0dXJl")
    else:
        params = desk.twilio.inbound_params(phone, "안녕")
        from twilio.request_validator import RequestValidator

        signature = RequestValidator(desk.twilio.auth_token).compute_signature(
            desk.url + "/sms/inbound", params
        )
        params["Body"] = "수락 JK-ABCDEF"
        answer = requests.post(
            desk.url + "/sms/inbound",
            data=params,
            headers={"X-Twilio-Signature": signature},
            timeout=10,
        )
    assert answer.status_code == 403
    time.sleep(0.5)  # give a wrongly accepted request the time to show
    assert contacts(desk) == before_contacts
    assert len(desk.rasa.calls) == before_calls


# --- students --------------------------------------------------------------------


def test_a_student_reaches_rasa_under_an_opaque_id(desk):
    phone = new_phone()
    answer = desk.text(phone, "상담 선생님이랑 얘기하고 싶어요")
    assert answer.status_code == 200 and answer.text == EMPTY_TWIML
    assert "xml" in answer.headers["Content-Type"]
    [call] = desk.rasa.wait_for(
        lambda c: (
            c["path"] == "/webhooks/jikimi_sms/webhook"
            and c["json"]["message"] == "상담 선생님이랑 얘기하고 싶어요"
        ),
        what="student message",
    )
    sender = call["json"]["sender"]
    assert sender.startswith("sms-") and phone[3:] not in sender and phone[-4:] not in sender
    assert call["auth"] == f"Bearer {desk.settings.rasa_token}"
    desk.text(phone, "두 번째")
    [again] = desk.rasa.wait_for(lambda c: c["fields"].get("message") == "두 번째")
    assert again["json"]["sender"] == sender == sender_of(desk, phone)


def test_a_repeated_webhook_is_handled_once(desk):
    phone = new_phone()
    params = desk.twilio.inbound_params(phone, "한 번만 처리돼요")
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(desk.twilio.auth_token).compute_signature(
        desk.url + "/sms/inbound", params
    )
    for _ in range(2):
        answer = requests.post(
            desk.url + "/sms/inbound", data=params, headers={"X-Twilio-Signature": signature}
        )
        assert answer.status_code == 200
    desk.rasa.wait_for(lambda c: c["fields"].get("message") == "한 번만 처리돼요")
    time.sleep(1)
    assert sum(c["fields"].get("message") == "한 번만 처리돼요" for c in desk.rasa.calls) == 1


def test_pictures_are_not_taken(desk):
    phone = new_phone()
    assert desk.text(phone, "", media=1).status_code == 200
    desk.twilio.wait_for_message(phone, "사진이나 영상은 받지도 보지도 않아요")
    assert not any(c["fields"].get("sender") == sender_of(desk, phone) for c in desk.rasa.calls)


def test_a_stranger_texting_a_code_is_just_a_student(desk):
    student = sender_of(desk, new_phone())
    code = request(desk, student)
    stranger = new_phone()
    desk.text(stranger, f"수락 {code}")
    desk.rasa.wait_for(lambda c: c["fields"].get("message") == f"수락 {code}", what="forward")
    assert state(desk, code) == "notified"
    assert desk.rasa.triggers(student) == []
    handoff.end_handoff_for_sender(desk.settings, student)


def test_erase_keyword_forgets_the_student_and_tells_the_counsellor(desk):
    phone = new_phone()
    student = sender_of(desk, phone)
    code = request(desk, student)
    desk.text(COUNSELLOR, f"수락 {code}")
    desk.rasa.wait_for(lambda c: c["path"].endswith(f"{student}/trigger_intent"))
    desk.text(phone, " 삭제 ")
    desk.twilio.wait_for_message(phone, "모두 지웠어요")
    desk.twilio.wait_for_message(COUNSELLOR, f"{code} 학생이 상담을 끝냈어요")
    [reset] = desk.rasa.wait_for(lambda c: c["path"] == f"/conversations/{student}/tracker/events")
    assert reset["json"] == [{"event": "restart"}]
    assert reset["query"]["token"] == desk.settings.rasa_token
    assert student not in contacts(desk)
    with desk.session() as session:
        assert session.execute(select(Handoff).where(Handoff.code == code)).first() is None
    # The next SMS from that phone is a new conversation.
    assert sender_of(desk, phone) != student


def test_stop_keyword_ends_the_session(desk):
    phone = new_phone()
    student = sender_of(desk, phone)
    code = request(desk, student)
    desk.text(phone, "그만!")
    desk.twilio.wait_for_message(phone, "대화를 끝냈어요")
    desk.twilio.wait_for_message(COUNSELLOR, f"{code} 학생이 요청을 취소했어요")
    [reset] = desk.rasa.wait_for(lambda c: c["path"] == f"/conversations/{student}/tracker/events")
    assert reset["json"][0] == {"event": "session_started"}
    assert state(desk, code) == "closed"
    assert sender_of(desk, phone) == student  # ended, not erased


# --- counsellors -----------------------------------------------------------------


def test_accept_relay_and_close_by_sms(desk):
    student = sender_of(desk, new_phone())
    code = request(desk, student, urgent=True)
    offer = desk.twilio.wait_for_message(COUNSELLOR, f"상담 요청 {code}")
    assert "긴급" in offer.body and sms.ucs2_length(offer.body) <= 134
    assert desk.text(COUNSELLOR, f"수락 {code}").status_code == 200
    [call] = desk.rasa.wait_for(lambda c: c["path"] == f"/conversations/{student}/trigger_intent")
    assert call["json"] == {"name": "EXTERNAL_handoff_accepted", "entities": {}}
    assert call["query"] == {"output_channel": "latest", "token": desk.settings.rasa_token}
    desk.twilio.wait_for_message(COUNSELLOR, f"{code} 수락했어요")
    desk.text(COUNSELLOR, "많이 힘들었죠. 천천히 이야기해 주세요.")
    desk.rasa.wait_for(
        lambda c: (
            c["fields"].get("entities", {}).get("counsellor_text")
            == "많이 힘들었죠. 천천히 이야기해 주세요."
        ),
        what="relay",
    )
    desk.text(COUNSELLOR, f"종료 {code}")
    desk.rasa.wait_for(lambda c: c["fields"].get("name") == "EXTERNAL_handoff_closed")
    assert desk.rasa.triggers(student) == [
        "EXTERNAL_handoff_accepted",
        "EXTERNAL_counsellor_message",
        "EXTERNAL_handoff_closed",
    ]
    assert state(desk, code) == "closed"


def test_unknown_code_and_someone_elses_code_are_refused(desk):
    desk.text(COUNSELLOR, "수락 JK-ZZZZZZ")
    desk.twilio.wait_for_message(COUNSELLOR, "JK-ZZZZZZ 요청을 찾지 못했어요")
    student = sender_of(desk, new_phone())
    code = request(desk, student, channel="socketio")
    desk.text(SECOND, f"수락 {code}")  # offered to the first counsellor
    desk.twilio.wait_for_message(SECOND, f"{code}는 선생님께 온 요청이 아니에요")
    desk.text(COUNSELLOR, "음 뭐라고 보내야 하죠")
    desk.twilio.wait_for_message(COUNSELLOR, "답장 방법")
    assert state(desk, code) == "notified"
    assert desk.rasa.triggers(student) == []
    handoff.end_handoff_for_sender(desk.settings, student)


def test_decline_and_timeout_escalate_and_then_nobody_is_left(desk):
    student = sender_of(desk, new_phone())
    code = request(desk, student)
    desk.text(COUNSELLOR, f"거절 {code}")
    desk.rasa.wait_for(lambda c: c["path"].endswith(f"{student}/trigger_intent"))
    offer = desk.twilio.wait_for_message(SECOND, "넘겨받음")
    assert desk.rasa.triggers(student) == ["EXTERNAL_handoff_escalated"]
    # The second counsellor does not answer: after JIKIMI_HANDOFF_TIMEOUT_S the
    # sweep finds nobody left.
    desk.rasa.wait_for(
        lambda c: (
            c["fields"].get("name") == "EXTERNAL_handoff_unavailable" and student in c["path"]
        ),
        timeout=TIMEOUT_S * 10,
        what="unavailable",
    )
    second_code = offer.body.split()[3]
    desk.twilio.wait_for_message(SECOND, f"{second_code} 제한 시간 안에 답이 없었어요")


def test_a_relay_that_cannot_reach_rasa_is_reported_to_the_counsellor(desk):
    student = sender_of(desk, new_phone())
    code = request(desk, student)
    desk.text(COUNSELLOR, f"수락 {code}")
    desk.rasa.wait_for(lambda c: c["path"].endswith(f"{student}/trigger_intent"))
    desk.rasa.status = 500
    try:
        desk.text(COUNSELLOR, f"{code} 들리나요?")
        desk.twilio.wait_for_message(COUNSELLOR, f"{code} 방금 문자를 학생에게 전하지 못했어요")
    finally:
        desk.rasa.status = 200
    handoff.end_handoff_for_sender(desk.settings, student)


def test_a_student_whose_sms_rasa_cannot_take_is_told_where_to_call(desk):
    phone = new_phone()
    desk.rasa.status = 500
    try:
        desk.text(phone, "도와주세요")
        body = desk.twilio.wait_for_message(phone, "바로 답하지 못했어요").body
    finally:
        desk.rasa.status = 200
    for number in ("112", "109", "1388"):
        assert number in body
    # A turn that failed inside Rasa is not run again (the student would hear it twice).
    assert sum(c["fields"].get("message") == "도와주세요" for c in desk.rasa.calls) == 1


def test_rasa_unavailable_behind_a_proxy_is_retried(desk):
    phone = new_phone()
    desk.rasa.next_statuses = [503]
    desk.text(phone, "다시 보내 주세요")
    found = desk.rasa.wait_for(
        lambda c: c["fields"].get("message") == "다시 보내 주세요", what="two attempts"
    )
    deadline = time.monotonic() + 30
    while len(found) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        found = [c for c in desk.rasa.calls if c["fields"].get("message") == "다시 보내 주세요"]
    assert len(found) == 2
    assert all("답하지 못했어요" not in m.body for m in desk.twilio.to(phone))


# --- issue 15: nothing accepted is lost, nothing acted on twice, bursts -----------


def test_while_rasa_is_away_a_students_sms_waits_in_the_journal_and_goes_in_order(desk):
    from jikimi.desk.sms import journal_dir

    phone = new_phone()
    desk.rasa.status = 503  # Rasa (or its conversation store) unavailable
    try:
        desk.text(phone, "첫 번째 이야기")
        body = desk.twilio.wait_for_message(phone, "받아 두었고").body
        assert "112" in body and "109" in body
        desk.text(phone, "두 번째 이야기")  # behind the first, not before it
        deadline = time.monotonic() + 30
        while len(list(journal_dir(desk.settings).glob("*.sms"))) < 2:
            assert time.monotonic() < deadline, "not journaled"
            time.sleep(0.2)
    finally:
        desk.rasa.status = 200
    delivered = desk.rasa.wait_for(
        lambda c: c["fields"].get("message") == "두 번째 이야기", what="the replay"
    )
    assert delivered
    mine = [
        c["fields"]["message"]
        for c in desk.rasa.calls
        if c["fields"].get("message") in ("첫 번째 이야기", "두 번째 이야기")
    ]
    # Tried (and refused) while away, then each delivered once, in order.
    assert mine[-2:] == ["첫 번째 이야기", "두 번째 이야기"]
    assert len([m for m in desk.twilio.to(phone) if "받아 두었고" in m.body]) == 1, "told once"
    assert not list(journal_dir(desk.settings).glob("*.sms"))


def test_a_webhook_delivered_again_after_a_restart_is_still_handled_once(desk, tmp_path):
    """MessageSids are kept in the database, not in one process's memory: a
    second desk (or the same one restarted) does not act on it again."""
    phone = new_phone()
    params = desk.twilio.inbound_params(phone, "재전송된 문자")
    from twilio.request_validator import RequestValidator

    def post(url):
        signature = RequestValidator(desk.twilio.auth_token).compute_signature(
            url + "/sms/inbound", params
        )
        return requests.post(
            url + "/sms/inbound", data=params, headers={"X-Twilio-Signature": signature},
            timeout=30,
        )  # fmt: skip

    assert post(desk.url).status_code == 200
    desk.rasa.wait_for(lambda c: c["fields"].get("message") == "재전송된 문자")
    with desk.session() as session:
        from jikimi.db import InboundSms

        assert session.get(InboundSms, params["MessageSid"]) is not None
    # The same database, another desk process (its own memory) on its own port.
    env = stack_env(
        tmp_path,
        JIKIMI_DATABASE_URL=desk.settings.database_url,
        JIKIMI_SECRET_KEY=desk.settings.secret_key,
        JIKIMI_RASA_PORT=str(desk.rasa.port),
        **desk.twilio.env(),
    )
    env["JIKIMI_PUBLIC_URL"] = urls(env)["desk"]
    with serve("desk", env, tmp_path) as second:
        assert post(second.url).status_code == 200
        time.sleep(1.5)
        assert stop(second.process)
    assert sum(c["fields"].get("message") == "재전송된 문자" for c in desk.rasa.calls) == 1


def test_a_burst_from_one_number_is_answered_in_part_and_told_once(desk):
    """A red-team burst of 40 SMS got 40 replies. Now the desk hands at most
    JIKIMI_SMS_PER_NUMBER_PER_MINUTE of them to Rasa and says once to slow down."""
    phone = new_phone()
    cap = desk.settings.sms_per_number_per_minute
    for i in range(40):
        desk.text(phone, f"연속 {i}")
    desk.twilio.wait_for_message(phone, "한꺼번에 많이")
    time.sleep(2)
    handed = [c for c in desk.rasa.calls if str(c["fields"].get("message", "")).startswith("연속")]
    assert len(handed) == cap
    assert len([m for m in desk.twilio.to(phone) if "한꺼번에 많이" in m.body]) == 1


def test_outbox_rows_of_the_gateway_hold_no_plain_numbers(desk):
    from sqlalchemy import create_engine, text

    engine = create_engine(desk.settings.database_url)
    with engine.connect() as connection:
        dump = " ".join(
            str(value)
            for table in ("outbox_messages", "sms_contacts", "counsellors", "handoffs")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
            for value in row
        )
    engine.dispose()
    assert COUNSELLOR not in dump and "1011112222" not in dump
    assert "수락했어요" not in dump and "상담 요청" not in dump  # bodies are encrypted
    with desk.session() as session:
        assert session.execute(select(OutboxMessage)).first() is not None


# --- without Twilio --------------------------------------------------------------


def test_without_an_auth_token_every_inbound_sms_is_refused(tmp_path):
    rasa = FakeRasa()
    try:
        with start_desk(tmp_path, {"JIKIMI_RASA_PORT": str(rasa.port)}) as (url, _, log):
            twilio = FakeTwilio()  # not started: used only to sign
            for token in ("", "anything"):
                answer = twilio.inbound(url, new_phone(), "안녕", token=token or None)
                assert answer.status_code == 403
            assert rasa.calls == []
    finally:
        rasa.server.shutdown()
        dispose_engines()
    assert "every inbound SMS is refused" in log.read_text()
