"""SMS rendering: splitting, numbered buttons and their replies, a counsellor's
words, the desk's keywords, and the counsellor CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sqlalchemy import select

from bot.sms_channel import JikimiSmsInput, JikimiSmsOutput, choice_payload
from jikimi import sms
from jikimi.db import OutboxMessage, sms_sender_id, utcnow
from jikimi.desk.sms import keyword

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+821012345678"


# --- splitting -------------------------------------------------------------------


def test_a_short_message_is_one_part():
    assert sms.split_sms("  안녕하세요  ") == ["안녕하세요"]
    assert sms.split_sms("") == [] and sms.split_sms(" \n ") == []


def test_long_messages_split_at_paragraphs_then_sentences():
    paragraphs = ["가" * 200, "나" * 200, "다" * 50]
    parts = sms.split_sms("\n\n".join(paragraphs))
    assert parts == ["가" * 200 + " (1/2)", "나" * 200 + "\n\n" + "다" * 50 + " (2/2)"]
    sentences = " ".join(f"문장 {i}번이에요." for i in range(60))
    parts = sms.split_sms(sentences)
    assert all(p.split(" (")[0].endswith("이에요.") for p in parts)


@given(st.text(min_size=1, max_size=3000), st.sampled_from(["", "[JK-ABCDEF] "]))
def test_parts_fit_and_keep_every_word(text, prefix):
    parts = sms.split_sms(text, prefix=prefix)
    assert all(len(part) <= sms.SMS_PART_CHARS for part in parts)
    assert all(part.startswith(prefix) for part in parts)
    if len(parts) > 1:
        stripped = [part[len(prefix) :].rsplit(" (", 1)[0] for part in parts]
    else:
        stripped = [part[len(prefix) :] for part in parts]
    assert "".join("".join(stripped).split()) == "".join(text.split())


def test_phone_numbers_are_masked():
    assert sms.mask_phone(PHONE) == "+8210****5678"
    assert "1234" not in sms.mask_phone(PHONE)


def test_counting_is_by_utf16_units():
    assert sms.ucs2_length("가나다") == 3 and sms.ucs2_length("😀") == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("삭제", "삭제"), (" 삭제. ", "삭제"), ("그만!!", "그만"), ("그 만", "그만"),
     ("그만할래", None), ("기록 삭제해줘", None), ("", None)],
)  # fmt: skip
def test_desk_keywords_are_whole_messages(text, expected):
    assert keyword(text) == expected


# --- the output channel ----------------------------------------------------------


def queued(db):
    with db.session() as session:
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
        return [(row.recipient, row.body) for row in rows]


@pytest.fixture
def student(db):
    with db.session() as session:
        return sms_sender_id(session, PHONE, utcnow())


async def test_buttons_become_numbered_choices_across_a_turn(db, student):
    output = JikimiSmsOutput(db.settings)
    await output.send_response(
        student,
        {"text": "무엇을 도와드릴까요?", "buttons": [
            {"title": "딥페이크가 뭐예요?", "payload": "/ask_what_is_deepfake"},
            {"title": "상담받고 싶어요", "payload": "/request_counsellor"},
        ]},
    )  # fmt: skip
    quiz = [{"title": "퀴즈", "payload": "/start_quiz"}]
    await output.send_text_with_buttons(student, "또는", quiz)
    [(to, first), (_, second)] = queued(db)
    assert to == PHONE
    assert first.splitlines() == [
        "무엇을 도와드릴까요?",
        "1. 딥페이크가 뭐예요?",
        "2. 상담받고 싶어요",
        sms.text("choices_hint"),
    ]
    assert second.splitlines()[1] == "3. 퀴즈"


async def test_a_counsellors_words_are_marked_as_a_persons(db, student):
    output = JikimiSmsOutput(db.settings)
    await output.send_custom_json(student, {"from_counsellor": True, "text": " 괜찮아요 "})
    await output.send_custom_json(student, {"data": {"from_counsellor": True, "text": "네"}})
    await output.send_custom_json(student, {"evidence_panel": True})  # widget only
    assert [body for _, body in queued(db)] == ["상담 선생님: 괜찮아요", "상담 선생님: 네"]


async def test_the_first_reply_of_a_conversation_says_it_is_a_bot(db, student):
    first = JikimiSmsOutput(db.settings, intro=True)
    await first.send_text_message(student, "무엇을 도와드릴까요?")
    await first.send_text_message(student, "두 번째 말")
    later = JikimiSmsOutput(db.settings)
    await later.send_text_message(student, "다음 차례")
    bodies = [body for _, body in queued(db)]
    assert bodies[0].startswith(sms.text("intro")) and "챗봇" in bodies[0]
    assert bodies[1:] == ["두 번째 말", "다음 차례"]


async def test_no_second_intro_when_the_reply_says_it_is_a_bot(db, student):
    output = JikimiSmsOutput(db.settings, intro=True)
    await output.send_text_message(student, "저는 사람이 아니라 챗봇이에요.")
    assert [body for _, body in queued(db)] == ["저는 사람이 아니라 챗봇이에요."]


async def test_replies_to_an_erased_conversation_are_dropped(db):
    output = JikimiSmsOutput(db.settings)
    await output.send_text_message("sms-unknown", "안녕")
    assert queued(db) == []
    # ...unless the number was known when the message arrived (the delete turn).
    await JikimiSmsOutput(db.settings, phone=PHONE).send_text_message("sms-gone", "지웠어요")
    assert queued(db) == [(PHONE, "지웠어요")]


def test_numbered_replies_select_the_last_turns_buttons():
    menu = [{"title": "가", "payload": "/greet"}, {"title": "나", "payload": "맞아요"}]
    events = [
        UserUttered("안녕"),
        ActionExecuted("utter_greet"),
        BotUttered("메뉴", {"buttons": menu}),
        BotUttered("더", {"buttons": [{"title": "다", "payload": "/start_quiz"}]}),
        ActionExecuted("action_listen"),
    ]
    assert choice_payload("1", events) == "/greet"
    assert choice_payload(" 2번 ", events) == "맞아요"
    assert choice_payload("３", events) == "/start_quiz"  # full-width digit
    assert choice_payload("4", events) is None
    assert choice_payload("1 2", events) is None and choice_payload("안녕", events) is None
    # Buttons of an earlier turn do not count once the student has written since.
    assert choice_payload("1", events + [UserUttered("몰라"), BotUttered("음")]) is None


def test_the_channel_is_named_for_output_channel_latest():
    assert JikimiSmsInput.name() == "jikimi_sms"
    assert JikimiSmsInput().get_output_channel().name() == "jikimi_sms"
    credentials = (ROOT / "bot" / "credentials.yml").read_text()
    assert "bot.sms_channel.JikimiSmsInput" in credentials


# --- the counsellor CLI ----------------------------------------------------------


def cli(db, *args):
    env = {
        "JIKIMI_DATABASE_URL": db.url,
        "JIKIMI_SECRET_KEY": db.settings.secret_key,
        "RASA_TOKEN": "t",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "jikimi.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_counsellor_cli(db):
    added = cli(db, "counsellor", "add", "김상담", "010-1234-5678", "--priority", "5")
    assert added.returncode == 0, added.stderr
    assert "+8210****5678" in added.stdout and "5678" in added.stdout
    assert cli(db, "counsellor", "add", "이상담", "+82 10 9999 0000").returncode == 0
    duplicate = cli(db, "counsellor", "add", "김상담", "01012345678")
    assert duplicate.returncode == 2 and "already registered" in duplicate.stderr
    invalid = cli(db, "counsellor", "add", "박", "02-123-4567")
    assert invalid.returncode == 2 and "not a Korean mobile number" in invalid.stderr
    listed = cli(db, "counsellor", "list").stdout
    assert listed.index("김상담") < listed.index("이상담")  # priority 5 before 100
    assert "1234" not in listed and "9999" not in listed
    assert cli(db, "counsellor", "disable", "010-9999-0000").returncode == 0
    assert cli(db, "counsellor", "disable", "1").returncode == 0
    listed = cli(db, "counsellor", "list").stdout
    assert listed.count("disabled") == 2
    assert cli(db, "counsellor", "enable", "#1").returncode == 0
    missing = cli(db, "counsellor", "disable", "42")
    assert missing.returncode == 1 and "no counsellor" in missing.stderr
    with db.session() as session:
        from jikimi.db import on_call_counsellors

        assert [(c.name, c.phone) for c in on_call_counsellors(session)] == [
            ("김상담", "+821012345678")
        ]
    with db.raw() as connection:
        from sqlalchemy import text

        phones = connection.execute(text("SELECT phone FROM counsellors")).scalars().all()
    assert all("5678" not in phone for phone in phones)  # encrypted at rest
