"""KakaoTalk end to end: the real Rasa server, action server and desk
(tests/support/kakao_stack.py) against a fake Kakao i Open Builder and event API
(tests/support/fake_kakao.py) and the fake Twilio for counsellors.

What a student sees is what the fake shows in their chat: skill responses
(within Open Builder's 5 seconds, in its format and limits), callback
responses, and event blocks the event API sent. Every test ends by checking
that no response broke Kakao's format or limits (`violations`)."""

from __future__ import annotations

import re
import secrets
import time

import pytest
from sqlalchemy import select

from jikimi import content, kakao, sms
from jikimi.db import CODE_PATTERN, Handoff, KakaoContact, OutboxMessage, session_scope
from tests.support.kakao_stack import kakao_stack

ASK = "상담 선생님이랑 얘기하고 싶어요"
LESSON = "딥페이크가 뭐야"


def first_words(text: str, n: int = 4) -> str:
    return " ".join(text.split()[:n])


def new_user() -> str:
    return "bu" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with kakao_stack(tmp_path_factory.mktemp("kakao")) as running:
        yield running


@pytest.fixture(autouse=True)
def _kakao_rules_kept(stack):
    before = len(stack.kakao.violations)
    yield
    assert stack.kakao.violations[before:] == []
    stack.kakao.event_up()
    with session_scope(stack.settings) as session:  # no handoff left for the next test
        for row in session.execute(select(Handoff).where(Handoff.state == "accepted")).scalars():
            row.state = "closed"


def sms_count(stack) -> int:
    return len(stack.twilio.to(stack.counsellors[0]))


def accepted_handoff(stack, user: str) -> str:
    """A KakaoTalk student asks for a counsellor, who accepts by SMS."""
    offer, answers = stack.ask_for_counsellor(user, ASK)
    assert all(a.status == 200 and not a.timed_out for a in answers)
    code = CODE_PATTERN.search(offer).group(0)
    assert "카카오톡" in offer  # the channel, by name
    stack.counsellor_sms(stack.counsellors[0], f"수락 {code}")
    stack.kakao.wait_for_text(user, first_words(content.message("handoff_accepted").text))
    return code


# --- the secret -------------------------------------------------------------------------


def test_requests_without_the_secret_are_refused_and_change_nothing(stack):
    user = new_user()
    for secret in (None, "", "wrong", stack.kakao.secret[:-1], stack.kakao.secret + "x"):
        answer = stack.kakao.say(user, "안녕", secret=secret)
        assert answer.status == 403, secret
    assert stack.sender_of(user) is None
    assert stack.kakao.chat(user) == []
    assert stack.kakao.say(user, "안녕").status == 200  # the right secret works


def test_a_request_that_is_not_a_skill_request_is_a_clean_400(stack):
    url, headers = stack.kakao.skill_url, {"X-Jikimi-Kakao-Secret": stack.kakao.secret}
    import requests

    assert requests.post(url, data="nope", headers=headers, timeout=10).status_code == 400
    empty = requests.post(url, json={"userRequest": {}}, headers=headers, timeout=10)
    assert empty.status_code == 400


# --- a turn within the time limit ---------------------------------------------------------------


def test_answers_come_within_the_time_limit_with_buttons_as_quick_replies(stack):
    user = new_user()
    answer = stack.kakao.say(user, "안녕")
    assert answer.status == 200 and answer.elapsed < kakao.SKILL_TIMEOUT_S
    assert answer.texts and answer.quick_replies
    answer = stack.kakao.tap(user, "법은 어떻게 돼요?")
    assert answer.texts and answer.elapsed < kakao.SKILL_TIMEOUT_S
    # The tapped quick reply was read as its button's payload.
    sender = stack.sender_of(user)
    last = [e for e in stack.tracker(sender)["events"] if e["event"] == "user"][-1]
    assert last["text"] == "/ask_law" and last["parse_data"]["intent"]["name"] == "ask_law"
    assert last["input_channel"] == "kakao"
    # The tracker knows an opaque id, never the bot user key; nor do the logs.
    assert sender.startswith("kakao-")
    assert user not in stack.dump(sender)
    assert user not in stack.logs()


def test_long_replies_are_split_within_kakaos_limits(stack):
    user = new_user()
    for text in ("딥페이크가 뭐야", "법은 어떻게 돼?", "증거는 어떻게 남겨?"):
        answer = stack.kakao.say(user, text)
        assert answer.status == 200 and 1 <= len(answer.texts) <= kakao.MAX_OUTPUTS
        assert all(len(t) <= kakao.TEXT_CHARS for t in answer.texts)


def test_pictures_are_refused_kindly_and_go_no_further(stack):
    user = new_user()
    stack.kakao.say(user, "안녕")
    url = "https://talk.kakaocdn.net/dna/abc/secureimage/i_1.jpg?credential=x&expires=1"
    answer = stack.kakao.say(user, url, media={"type": "image", "url": url})
    assert answer.texts == [sms.text("no_media")]
    assert "kakaocdn" not in stack.dump(stack.sender_of(user))


# --- a slow Rasa ----------------------------------------------------------------------------


def test_a_slow_answer_comes_by_callback(stack):
    user = new_user()
    stack.kakao.say(user, "안녕")
    lesson = first_words(content.lesson("ask_what_is_deepfake", "student", 0)[0].text, 3)
    with stack.slow_rasa(7.0):
        started = time.monotonic()
        answer = stack.kakao.say(user, LESSON, callback=True)
        assert answer.uses_callback and answer.elapsed < kakao.SKILL_TIMEOUT_S
    bubble = stack.kakao.wait_for_text(user, lesson, timeout=60)
    took = time.monotonic() - started
    assert bubble.source == "callback"
    [used] = [c for c in stack.kakao.callbacks_used() if c["user"] == user]
    print(f"\ncallback: acknowledged in {answer.elapsed:.2f} s, answered after {took:.1f} s")
    assert took < 60


def test_a_slow_answer_without_callback_comes_through_the_event_api(stack):
    user = new_user()
    stack.kakao.say(user, "안녕")
    lesson = first_words(content.lesson("ask_what_is_deepfake", "student", 0)[0].text, 3)
    with stack.slow_rasa(7.0):
        answer = stack.kakao.say(user, LESSON)
        assert answer.elapsed < kakao.SKILL_TIMEOUT_S
        assert answer.texts == [kakao.text("still_working")]
    bubble = stack.kakao.wait_for_text(user, lesson, timeout=60)
    assert bubble.source == "event"
    assert sum(lesson in b.text for b in stack.kakao.chat(user)) == 1


# --- outside a request: the event API -------------------------------------------------------------


def test_the_event_api_down_for_a_while_then_each_message_arrives_once(stack):
    user = new_user()
    code = accepted_handoff(stack, user)
    failed_before = sum(r["status"] == 500 for r in stack.kakao.event_requests)
    stack.kakao.event_down(500)
    stack.counsellor_sms(stack.counsellors[0], "잘 지냈어요? 천천히 말해 줘요.")
    stack.kakao.wait_for(
        lambda: sum(r["status"] == 500 for r in stack.kakao.event_requests) >= failed_before + 3,
        timeout=60,
        what="failed event API attempts",
    )
    assert not any("잘 지냈어요?" in b.text for b in stack.kakao.chat(user))
    stack.kakao.event_up()
    relayed = stack.kakao.wait_for_text(user, "잘 지냈어요? 천천히 말해 줘요.")
    assert relayed.text == "상담 선생님: 잘 지냈어요? 천천히 말해 줘요."
    assert relayed.source == "event"
    # Accepted by Kakao but answered 500: the dispatcher may ring again (unless
    # the block's skill call marked the message shown first); it shows once.
    stack.kakao.event_fail_next(500, accept=True)
    stack.counsellor_sms(stack.counsellors[0], "혹시 지금 안전한 곳에 있어요?")
    stack.kakao.wait_for_text(user, "혹시 지금 안전한 곳에 있어요?")
    assert any(r["status"] == 500 and r["accepted"] for r in stack.kakao.event_requests)
    time.sleep(4.0)  # any second ring has come by now (retry after 1 s)
    chat = [b.text for b in stack.kakao.chat(user)]
    assert sum("잘 지냈어요?" in t for t in chat) == 1
    assert sum("안전한 곳에 있어요?" in t for t in chat) == 1
    stack.counsellor_sms(stack.counsellors[0], f"종료 {code}")
    closed = content.message("handoff_closed_by_counsellor").text
    stack.kakao.wait_for_text(user, first_words(closed))


def test_a_message_waiting_for_the_event_api_comes_with_the_next_answer(stack):
    user = new_user()
    code = accepted_handoff(stack, user)
    stack.kakao.event_down(500)
    stack.counsellor_sms(stack.counsellors[0], "기다렸다가 답해도 돼요.")
    sender = stack.sender_of(user)

    def waiting():
        with session_scope(stack.settings) as session:
            return session.execute(
                select(OutboxMessage.id).where(
                    OutboxMessage.channel == "kakao", OutboxMessage.delivered_at.is_(None)
                )
            ).first()

    stack.kakao.wait_for(waiting, timeout=30, what="the relayed message queued")
    answer = stack.kakao.say(user, "네 알겠어요")  # forwarded to the counsellor
    assert answer.texts[0] == "상담 선생님: 기다렸다가 답해도 돼요."
    stack.twilio.wait_for_message(stack.counsellors[0], f"[{code}] 네 알겠어요")
    stack.kakao.event_up()
    time.sleep(3.0)  # the pending bell rings now: nothing new to show
    assert sum("기다렸다가" in b.text for b in stack.kakao.chat(user)) == 1
    assert sender == stack.sender_of(user)
    stack.counsellor_sms(stack.counsellors[0], f"종료 {code}")


# --- the two keywords ---------------------------------------------------------------------------


def test_stop_ends_the_handoff_and_the_session(stack):
    user = new_user()
    code = accepted_handoff(stack, user)
    before = sms_count(stack)
    answer = stack.kakao.say(user, "그만")
    assert answer.texts == [kakao.text("session_ended")]
    stack.twilio.wait_for_message(stack.counsellors[0], code, after=before)
    with session_scope(stack.settings) as session:
        state = session.execute(select(Handoff.state).where(Handoff.code == code)).scalar_one()
    assert state == "closed"
    answer = stack.kakao.say(user, "법은 어떻게 돼?")  # the bot answers again, not the relay
    assert answer.texts
    assert not any(f"[{code}] 법은" in m.body for m in stack.twilio.to(stack.counsellors[0]))


def test_erase_removes_everything_about_the_conversation(stack):
    user = new_user()
    code = accepted_handoff(stack, user)
    sender = stack.sender_of(user)
    before = sms_count(stack)
    answer = stack.kakao.say(user, "삭제")
    assert answer.texts == [kakao.text("erased")]
    assert re.search(r"112|1388", answer.texts[0])
    stack.twilio.wait_for_message(stack.counsellors[0], code, after=before)  # told
    with session_scope(stack.settings) as session:
        assert session.get(KakaoContact, sender) is None
        assert session.execute(select(Handoff).where(Handoff.code == code)).first() is None
    events = [e for e in stack.tracker(sender)["events"] if e["event"] == "user"]
    assert events == []
    stack.kakao.say(user, "안녕")
    assert stack.sender_of(user) not in (None, sender)  # a new conversation
