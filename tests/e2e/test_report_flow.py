"""A report walked through the real stack (REST channel, Rasa, action server,
SQLite), then erased: what the student typed is stored only encrypted, the
case is on disk before its code is told, and deletion removes it all."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.e2e.conftest import report_answers

# Distinctive, so that finding them in the raw database file means plaintext.
DESCRIPTION = "보라색우산 사건 때문에 너무 속상해요 qz7description"
LINK = "https://t.me/qz7secretroom/42"


def texts(replies):
    return [r.get("text", "") for r in replies]


def database_file(stack) -> Path:
    return Path(stack.database_url.removeprefix("sqlite:///"))


def raw_bytes(stack) -> bytes:
    """The database as someone holding the files would read it (WAL included)."""
    path = database_file(stack)
    data = path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def count(stack, table: str, where: str = "") -> int:
    engine = create_engine(stack.database_url, future=True)
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()
    finally:
        engine.dispose()


def test_report_is_saved_encrypted_then_deleted(stack):
    sender = "e2e-report"
    first = stack.say(sender, "제 얼굴로 합성된 사진이 돌아다녀요")
    assert "잘못은 합성하고 퍼뜨린 사람에게 있어요" in texts(first)[0]
    assert {"title": "신고·삭제 요청 준비하기", "payload": "/start_report"} in first[0]["buttons"]

    asked = stack.say(sender, "/start_report")
    assert "만 19세 미만" in texts(asked)[0]
    for answer, next_question in report_answers(LINK, DESCRIPTION):
        replies = stack.say(sender, answer)
        assert next_question in " ".join(texts(replies)), (answer, texts(replies))
    summary = " ".join(texts(replies))
    assert "텔레그램" in summary and LINK in summary and "같은 학교 친구" in summary

    saved = " ".join(texts(stack.say(sender, "맞아요")))
    code = re.search(r"JK-[0-9A-Z]{6}", saved).group(0)
    assert "저장했어요" in saved
    assert count(stack, "cases") >= 1

    data = raw_bytes(stack)
    for secret in (DESCRIPTION, LINK, "qz7secretroom", "qz7description"):
        assert secret.encode() not in data, f"{secret!r} is readable in the database file"
    assert code.encode() in data  # the code itself is a lookup key, stored plain

    # The takedown request is filled from the saved case.
    takedown = " ".join(texts(stack.say(sender, "영상 지우고 싶어요")))
    assert LINK in takedown and code in takedown

    confirm = stack.say(sender, "내 기록 다 지워줘")
    assert "지울까요" in texts(confirm)[0]
    kept = " ".join(texts(stack.say(sender, "아니 지우지 마")))
    assert "지우지 않았어요" in kept and count(stack, "cases") >= 1
    stack.say(sender, "내 기록 다 지워줘")
    done = " ".join(texts(stack.say(sender, "네 지워 주세요")))
    assert "지웠어요" in done and "신고 기록 1개" in done
    tracker = stack.tracker(sender)
    assert not any(DESCRIPTION in str(e) for e in tracker["events"])
    # The stored conversation starts again at the deletion: no message is left.
    from bot.tracker_store import sender_key
    from jikimi.db import Keyring

    key = sender_key(Keyring(stack.settings.secret_key), sender)
    assert count(stack, "events", f"WHERE sender_id = '{key}'") > 0
    assert count(stack, "events", f"WHERE sender_id = '{key}' AND type_name = 'user'") == 0


def test_stop_and_resume_then_crisis_interrupts(stack):
    sender = "e2e-report-stop"
    stack.say(sender, "/start_report")
    stack.say(sender, "중2예요")
    stopped = " ".join(texts(stack.say(sender, "그만할래")))
    assert "저장하지 않았어요" in stopped
    resumed = " ".join(texts(stack.say(sender, "/start_report")))
    assert "어디에서" in resumed  # the first question is not asked again
    crisis = texts(stack.say(sender, "그냥 다 끝내고 싶어 죽고싶다"))
    assert "109" in crisis[0]  # the crisis reply comes first


def test_evidence_hash_payload(stack):
    sender = "e2e-evidence"
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    replies = stack.say(
        sender, f'/add_evidence{{"sha256": "{digest}", "name": "capture.png", "size": 4}}'
    )
    assert "SHA-256" in " ".join(texts(replies))
    bad = stack.say(sender, '/add_evidence{"sha256": 5}')
    assert "읽지 못했어요" in " ".join(texts(bad))
