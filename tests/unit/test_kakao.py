"""KakaoTalk without Rasa: reading skill requests, packing replies into skill
responses within Kakao's limits, the outbox side ("the doorbell": shown once,
nothing lost), the event API transport against the fake Kakao, and the Kakao
dispatcher beside the SMS one. The channel itself, through the real stack:
tests/e2e/test_kakao_skill.py."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select

from bot.kakao_channel import authorised, title_payload
from jikimi import kakao
from jikimi.db import OutboxMessage, enqueue, session_scope, utcnow
from jikimi.dispatcher import Dispatcher, dispatch_until_idle
from jikimi.sms import SendError
from tests.support.fake_kakao import FakeKakao, check_response

USER = "bu-" + "a1b2c3d4e5f6"


def request(utterance="안녕", **kwargs):
    return FakeKakao.payload(USER, utterance, **kwargs)


# --- reading skill requests ---------------------------------------------------------


def test_a_skill_request_gives_the_user_key_utterance_and_callback():
    parsed = kakao.parse_request(
        request("딥페이크가 뭐야", callback_url="https://x.kakao.com/cb/1")
    )
    assert parsed == kakao.SkillRequest(USER, "딥페이크가 뭐야", "https://x.kakao.com/cb/1")


def test_the_user_key_may_come_in_the_properties_only():
    body = request()
    body["userRequest"]["user"] = {"type": "botUserKey", "properties": {"botUserKey": USER}}
    assert kakao.parse_request(body).user_key == USER


@pytest.mark.parametrize(
    "body",
    [None, [], {}, {"userRequest": {}}, {"userRequest": {"user": {"id": ""}}},
     {"userRequest": {"user": {"id": 5}}}, {"userRequest": {"user": {"id": "k" * 300}}}],
)  # fmt: skip
def test_anything_else_is_not_a_skill_request(body):
    with pytest.raises(ValueError):
        kakao.parse_request(body)


def test_pictures_and_videos_are_recognised():
    url = "https://talk.kakaocdn.net/dna/abc/secureimage/i_1.jpg?credential=x"
    assert kakao.parse_request(request(url, media={"type": "image", "url": url})).media
    assert kakao.parse_request(request(url)).media  # the CDN link alone
    upload = request("http://dn-m.talk.kakao.com/talkm/x.mp4")
    assert kakao.parse_request(upload).media
    trigger = request("사진")
    trigger["flow"] = {"trigger": {"type": "IMAGE_UPLOAD"}}
    assert kakao.parse_request(trigger).media
    # A link the student pastes (evidence for the report) is words, not a picture.
    assert not kakao.parse_request(request("https://t.me/some_room")).media
    assert not kakao.parse_request(request("여기 https://talk.kakaocdn.net/a 이거요")).media


def test_the_event_block_asks_for_what_is_waiting():
    event = request("", block=kakao.EVENT_NAME, params={kakao.EVENT_PARAM: "deliver"})
    assert kakao.parse_request(event).delivery
    assert kakao.parse_request(request("", block=kakao.EVENT_NAME)).delivery
    assert kakao.parse_request(request("   ")).delivery
    assert not kakao.parse_request(request("안녕")).delivery


@pytest.mark.parametrize(
    "text, word",
    [("삭제", "삭제"), (" 삭제. ", "삭제"), ("삭제!!", "삭제"), ("그만", "그만"),
     ("그만ㅠㅠ", "그만"), ("삭제해줘", None), ("사진 삭제 요청", None), ("그만할래", None),
     ("", None)],
)  # fmt: skip
def test_the_two_keywords_are_whole_messages(text, word):
    assert kakao.keyword(text) == word


def test_callbacks_go_only_to_kakao(db):
    settings = dataclasses.replace(db.settings, kakao_api_base="http://127.0.0.1:9999")
    assert kakao.callback_allowed("http://127.0.0.1:9999/v1/bots/b/callback/t", settings)
    assert kakao.callback_allowed("https://bot-api.kakao.com/v1/bots/b/callback/t", settings)
    for url in (None, "", "http://bot-api.kakao.com/cb", "https://evil.example/cb",
                "https://kakao.com.evil.example/cb", "http://127.0.0.1:9998/cb"):  # fmt: skip
        assert not kakao.callback_allowed(url, settings), url


def test_the_secret_is_required_and_compared_whole():
    assert authorised("s3cret", "s3cret")
    assert not authorised("s3cre", "s3cret")
    assert not authorised(None, "s3cret")
    assert not authorised("", "")  # no secret set: nobody
    assert not authorised("anything", None)


# --- skill responses ----------------------------------------------------------------------


def test_short_replies_are_one_bubble_each_with_their_buttons_as_quick_replies():
    buttons = [
        {"title": "딥페이크가 뭐예요?", "payload": "/ask_what"},
        {"title": "상담 선생님과 이야기하기", "payload": "/x"},
    ]
    said = [kakao.message("안녕하세요."), kakao.message("무엇을 도와줄까요?", buttons)]
    packed = kakao.pack(said)
    response = kakao.skill_response(packed.bubbles, packed.buttons)
    assert check_response(response) == []
    assert response["version"] == "2.0"
    assert [o["simpleText"]["text"] for o in response["template"]["outputs"]] == [
        "안녕하세요.",
        "무엇을 도와줄까요?",
    ]
    assert response["template"]["quickReplies"] == [
        {"label": b["title"], "action": "message", "messageText": b["title"]} for b in buttons
    ]


def test_long_replies_are_split_like_sms_and_many_share_bubbles():
    sentence = "딥페이크 성착취물은 만들기만 해도 처벌받는 범죄예요. "
    long = kakao.message(sentence * 60)  # about 1,800 characters
    packed = kakao.pack([long])
    assert len(packed.bubbles) == 2 and packed.taken == [2]
    assert all(len(b) <= kakao.TEXT_CHARS for b in packed.bubbles)
    assert packed.bubbles[0].endswith("(1/2)") and packed.bubbles[1].endswith("(2/2)")
    many = kakao.pack([kakao.message(f"{n}번째 말이에요.") for n in range(8)])
    assert len(many.bubbles) == 1 and many.taken == [1] * 8
    assert check_response(kakao.skill_response(many.bubbles)) == []


def test_what_does_not_fit_in_three_bubbles_is_left_over():
    big = [kakao.message(("가나다라마바사 " * 120).strip(), [{"title": f"b{n}", "payload": "/p"}])
           for n in range(4)]  # fmt: skip
    packed = kakao.pack(big)
    assert len(packed.bubbles) == kakao.MAX_OUTPUTS
    assert sum(packed.taken) == kakao.MAX_OUTPUTS and packed.taken[-1] == 0
    assert [b["title"] for b in packed.buttons] == ["b0", "b1", "b2"]  # shown whole only


def test_quick_replies_stay_within_the_limits():
    buttons = [{"title": f"아주 긴 버튼 제목 {n}번이에요", "payload": f"/p{n}"} for n in range(14)]
    replies = kakao.quick_replies(buttons + buttons[:2])
    assert len(replies) == kakao.MAX_QUICK_REPLIES
    for reply, button in zip(replies, buttons, strict=False):
        assert len(reply["label"]) <= kakao.QUICK_REPLY_LABEL_CHARS
        assert reply["messageText"] == button["title"]  # what is sent stays whole


def test_nothing_to_say_is_no_outputs():
    assert kakao.skill_response([]) == {"version": "2.0", "template": {"outputs": []}}
    assert kakao.callback_ack()["useCallback"] is True


def test_a_tapped_quick_reply_is_read_as_its_payload():
    from rasa.shared.core.events import BotUttered, UserUttered

    events = [
        UserUttered("안녕"),
        BotUttered("무엇을", {"buttons": [{"title": "법은 어떻게 돼요?", "payload": "/ask_law"}]}),
    ]
    assert title_payload("법은 어떻게 돼요?", events) == "/ask_law"
    assert title_payload(" 법은 어떻게 돼요? ", events) == "/ask_law"
    assert title_payload("법은 어떻게 돼요", events) is None
    assert title_payload("법은 어떻게 돼요?", events + [UserUttered("다른 말")]) is None


# --- the outbox side ("the doorbell") ------------------------------------------------------


@pytest.fixture
def student(db):
    return kakao.sender_for(db.settings, USER)


def kakao_rows(db):
    with session_scope(db.settings) as session:
        return [
            (r.id, r.status, r.delivered_at is not None, json.loads(r.body)["text"])
            for r in session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.channel == "kakao")
                .order_by(OutboxMessage.id)
            ).scalars()
        ]


def texts(response):
    return [o["simpleText"]["text"] for o in response["template"]["outputs"]]


def test_the_user_key_is_kept_only_encrypted_and_hashed(db, student):
    assert student.startswith("kakao-") and USER not in student
    assert kakao.sender_for(db.settings, USER) == student
    from sqlalchemy import text

    with db.raw() as connection:
        rows = connection.execute(text("SELECT * FROM kakao_contacts")).all()
    assert len(rows) == 1 and USER not in json.dumps([list(r) for r in rows], default=str)


def test_waiting_messages_are_shown_once_before_the_reply(db, student):
    kakao.queue(db.settings, student, [kakao.message("상담 선생님: 안녕하세요")])
    delivery = kakao.deliver(db.settings, student, [kakao.message("답이에요")])
    assert texts(delivery.response) == ["상담 선생님: 안녕하세요", "답이에요"]
    # The bell rings afterwards (or twice): nothing is shown again.
    assert texts(kakao.deliver(db.settings, student).response) == []
    [(_, status, delivered, _)] = kakao_rows(db)
    assert delivered and status == "sent"  # never rung: the dispatcher skips it


def test_what_does_not_fit_waits_and_rings_again(db, student):
    long = ("가나다라마바사 " * 120).strip()
    kakao.queue(db.settings, student, [kakao.message(long) for _ in range(4)])
    first = kakao.deliver(db.settings, student, [kakao.message("답이에요")])
    assert len(texts(first.response)) == 3
    rows = kakao_rows(db)
    # The fourth waits; the reply that did not fit is queued after it.
    assert [delivered for _, _, delivered, _ in rows] == [True, True, True, False, False]
    second = kakao.deliver(db.settings, student)
    assert texts(second.response) == [long, "답이에요"]  # the reply was queued, in order


def test_a_failed_callback_puts_everything_back(db, student):
    kakao.queue(db.settings, student, [kakao.message("기다리던 말")])
    delivery = kakao.deliver(db.settings, student, [kakao.message("늦은 답")])
    kakao.undeliver(db.settings, student, delivery)
    assert [(s, d) for _, s, d, _ in kakao_rows(db)] == [("queued", False), ("queued", False)]
    assert texts(kakao.deliver(db.settings, student).response) == ["기다리던 말", "늦은 답"]


def test_erasing_removes_the_key_and_every_message(db, student):
    kakao.queue(db.settings, student, [kakao.message("기다리던 말")])
    assert kakao.erase(db.settings, USER) == student
    assert kakao.known_sender(db.settings, USER) is None
    assert kakao_rows(db) == []
    assert kakao.queue(db.settings, student, [kakao.message("늦게 온 말")]) == 0
    assert kakao.sender_for(db.settings, USER) != student  # a new conversation


def test_stopping_drops_what_is_still_waiting(db, student):
    kakao.queue(db.settings, student, [kakao.message("기다리던 말")])
    assert kakao.stop(db.settings, USER) == student
    assert kakao_rows(db) == []
    assert kakao.known_sender(db.settings, USER) == student


# --- the event API and the dispatcher -----------------------------------------------------


@pytest.fixture
def fake():
    with FakeKakao() as server:
        yield server


@pytest.fixture
def settings(db, fake):
    return dataclasses.replace(
        db.settings,
        kakao_api_base=fake.url,
        kakao_rest_api_key=fake.rest_api_key,
        kakao_bot_id=fake.bot_id,
    )


def test_the_event_api_is_called_as_kakao_documents_it(settings, fake):
    task = kakao.KakaoEventTransport(settings).send(USER, "not sent")
    assert task
    [call] = fake.event_requests
    assert call == {"status": 200, "users": [USER], "accepted": True, "event": kakao.EVENT_NAME}


@pytest.mark.parametrize(
    "status, permanent, ambiguous", [(500, False, True), (503, False, True), (429, False, False),
                                     (401, False, False), (400, True, False)]
)  # fmt: skip
def test_event_api_errors_say_whether_to_try_again(settings, fake, status, permanent, ambiguous):
    fake.event_fail_next(status)
    with pytest.raises(SendError) as error:
        kakao.KakaoEventTransport(settings).send(USER, "x")
    assert (error.value.permanent, error.value.ambiguous) == (permanent, ambiguous)


def test_an_unreachable_event_api_is_tried_again(settings):
    from tests.support.processes import free_port

    closed = dataclasses.replace(settings, kakao_api_base=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SendError) as error:
        kakao.KakaoEventTransport(closed).send(USER, "x")
    assert not error.value.permanent and not error.value.ambiguous


def test_each_dispatcher_takes_only_its_own_channel(db, settings, fake, student):
    with session_scope(settings) as session:
        enqueue(session, "+821012345678", "문자", utcnow())
    kakao.queue(settings, student, [kakao.message("카카오톡")])
    kakao_dispatcher = Dispatcher(settings, kakao.transport_for(settings), channel="kakao")
    results = dispatch_until_idle(kakao_dispatcher)
    assert sum(r.sent for r in results) == 1
    assert fake.event_requests[0]["users"] == [USER]
    with session_scope(settings) as session:
        statuses = dict(session.execute(select(OutboxMessage.channel, OutboxMessage.status)).all())
    assert statuses == {"sms": "queued", "kakao": "sent"}


def test_the_event_api_down_for_a_while_loses_nothing(db, settings, fake, student):
    fake.event_down(500)
    kakao.queue(settings, student, [kakao.message("상담 선생님: 잘 지냈어요?")])
    clock_ahead = [0]

    def clock():
        from datetime import timedelta

        return utcnow() + timedelta(minutes=clock_ahead[0])

    dispatcher = Dispatcher(settings, kakao.transport_for(settings), channel="kakao", clock=clock)
    for _ in range(3):
        dispatcher.run_once()
        clock_ahead[0] += 10
    assert [r["status"] for r in fake.event_requests] == [500, 500, 500]
    fake.event_up()
    dispatcher.run_once()
    assert fake.event_requests[-1]["status"] == 200
    [(_, status, delivered, _)] = kakao_rows(db)
    assert status == "sent" and not delivered  # rung; shown when the block calls the skill
    assert texts(kakao.deliver(settings, student).response) == ["상담 선생님: 잘 지냈어요?"]


def test_without_event_api_settings_messages_wait_for_the_next_answer(db, student):
    transport = kakao.transport_for(db.settings)
    assert transport.name == "local"
    kakao.queue(db.settings, student, [kakao.message("기다리던 말")])
    dispatch_until_idle(Dispatcher(db.settings, transport, channel="kakao"))
    assert texts(kakao.deliver(db.settings, student, [kakao.message("답")]).response) == [
        "기다리던 말",
        "답",
    ]


# --- the skill endpoint without the secret setting ---------------------------------------


@pytest.mark.parametrize("header", [None, "", "anything"])
async def test_without_the_secret_setting_every_request_is_refused(db, monkeypatch, header):
    from bot import kakao_channel

    settings = dataclasses.replace(db.settings, kakao_skill_secret=None)
    monkeypatch.setattr(kakao_channel, "_settings", lambda: settings)
    handled = []

    async def on_new_message(message):
        handled.append(message)

    blueprint = kakao_channel.KakaoInput().blueprint(on_new_message)
    skill = next(r.handler for r in blueprint._future_routes if r.uri == "/skill")

    class Request:
        headers = {} if header is None else {kakao_channel.SECRET_HEADER: header}
        json = request("안녕")

    answer = await skill(Request())
    assert answer.status == 403
    assert handled == [] and kakao.known_sender(settings, USER) is None
