"""The three processes of `make run`, talked to over HTTP like a user would."""

from __future__ import annotations

import subprocess
import sys

import requests


def texts(replies):
    return " ".join(r.get("text", "") for r in replies)


def test_greeting_is_korean_and_says_it_is_a_bot(stack):
    replies = stack.say("e2e-greet", "안녕")
    assert replies, "no reply"
    text = texts(replies)
    assert "지킴이" in text and "챗봇" in text
    assert "112" in text
    buttons = [b["title"] for r in replies for b in r.get("buttons", [])]
    assert "피해를 입었어요" in buttons


def test_button_payload_reaches_the_intent(stack):
    replies = stack.say("e2e-button", "/ask_law")
    assert "범죄예요" in texts(replies)


def test_crisis_reply_gives_hotlines(stack):
    text = texts(stack.say("e2e-crisis", "요즘 그냥 죽고싶어"))
    for number in ("109", "112", "119"):
        assert number in text


def test_platform_entity_is_extracted_with_particle(stack):
    response = requests.post(
        f"{stack.rasa_url}/model/parse",
        params={"token": stack.token},
        json={"text": "텔레에 제 얼굴 합성한 사진이 올라왔어요"},
        timeout=30,
    )
    response.raise_for_status()
    parsed = response.json()
    assert parsed["intent"]["name"] == "report_incident"
    assert [e["value"] for e in parsed["entities"] if e["entity"] == "platform"] == ["telegram"]


def test_rasa_http_api_needs_the_token(stack):
    assert requests.get(f"{stack.rasa_url}/status", timeout=5).status_code == 401
    assert (
        requests.get(f"{stack.rasa_url}/status", params={"token": "wrong"}, timeout=5).status_code
        == 401
    )


def test_odd_messages_get_a_kind_reply_not_an_error(stack):
    for message in ("", "   ", "\x00\x07제어문자", "\u202e뒤집힌 글자", "😭😭😭", "/"):
        replies = stack.say("e2e-odd", message)
        assert isinstance(replies, list)
    assert stack.say("e2e-odd", "안녕")


def test_desk_service_answers(stack):
    assert requests.get(f"{stack.desk_url}/healthz", timeout=5).json() == {"status": "ok"}
    page = requests.get(f"{stack.desk_url}/", timeout=5)
    assert page.ok and "지킴이" in page.text


def test_missing_model_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jikimi.cli", "run", "--model", str(tmp_path / "none.tar.gz")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "make train" in result.stderr


def test_sextortion_gets_112_first(stack):
    text = texts(stack.say("e2e-threat", "돈 안 보내면 내 합성사진 학교에 다 뿌린대요 ㅠㅠ"))
    assert text.index("112") < text.index("1366")
    assert "돈이나 사진을 보내지 마세요" in text


def test_detector_catches_what_the_classifier_may_not(stack):
    for message in ("ㅈㅅ하고싶다 진짜", "죽 고 싶 어", "유서 써놨어"):
        text = texts(stack.say(f"e2e-detector-{message}", message))
        assert "109" in text, message


def test_a_message_over_the_limit_gets_a_kind_reply_and_is_not_stored(stack):
    from bot.channels import MAX_MESSAGE_CHARS, too_long_reply

    replies = stack.say("e2e-long", "ㅋ" * (MAX_MESSAGE_CHARS + 1))
    assert [r["text"] for r in replies] == [too_long_reply()]
    tracker = stack.tracker("e2e-long")
    assert not [e for e in tracker["events"] if e["event"] == "user"]
    assert stack.say("e2e-long", "ㅋ" * MAX_MESSAGE_CHARS) != [
        {"recipient_id": "e2e-long", "text": too_long_reply()}
    ]


def test_decomposed_hangul_is_understood(stack):
    import unicodedata

    nfd = unicodedata.normalize("NFD", "텔레그램에 제 얼굴 합성한 사진이 올라왔어요")
    assert "잘못은 합성하고 퍼뜨린 사람에게 있어요" in texts(stack.say("e2e-nfd", nfd))


def test_run_migrated_the_database(stack):
    """`jikimi run` brings the schema up to date before it starts anything."""
    from jikimi.db.migrate import schema_diff

    assert stack.database_url.startswith("sqlite:///")
    assert schema_diff(stack.database_url) == []
