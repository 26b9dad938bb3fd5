"""The report form's validators and the report, evidence, takedown and deletion
actions, against a real database (SQLite and PostgreSQL: the `db` fixture)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa_sdk import Tracker
from rasa_sdk.events import Restarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

import actions.common
from actions.evidence import (
    ActionAddEvidence,
    ActionDeleteMyData,
    ActionEvidenceHelp,
    ActionTakedownHelp,
)
from actions.report import (
    ASK_ACTIONS,
    QUESTION_SLOTS,
    SKIP,
    ActionAskReportConfirm,
    ActionReportEnd,
    ValidateReportForm,
    question,
    report_from_slots,
)
from jikimi import cases, content, reading
from jikimi.db import Case, EvidenceItem
from tests.unit.test_db import Db

SENDER = "student-1"


def tracker(
    text: str = "",
    slots: Optional[Dict[str, Any]] = None,
    intent: str = "inform",
    confidence: float = 0.9,
    entities: Optional[List[Dict[str, Any]]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    sender: str = SENDER,
) -> Tracker:
    latest = {
        "intent": {"name": intent, "confidence": confidence},
        "text": text,
        "entities": entities or [],
    }
    return Tracker(
        sender, slots or {}, latest, events or [], False, None,
        {"name": "report_form"}, "action_listen",
    )  # fmt: skip


def run(action, t: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return events, dispatcher.messages


def validate(slot: str, text: str, slots=None, **kwargs) -> Dict[str, Any]:
    """What validate_<slot> makes of one answer."""
    form = ValidateReportForm()
    dispatcher = CollectingDispatcher()
    t = tracker(text, {**(slots or {}), "requested_slot": slot}, **kwargs)
    method = getattr(form, f"validate_{slot}")
    result = asyncio.run(method(text, dispatcher, t, {}))
    result["_messages"] = dispatcher.messages
    return result


@pytest.fixture
def using(monkeypatch):
    """Points the action server's settings at a test database."""

    def use(database: Db) -> None:
        monkeypatch.setattr(actions.common, "settings", lambda: database.settings)
        monkeypatch.setattr("actions.report.settings", lambda: database.settings)
        monkeypatch.setattr("actions.evidence.settings", lambda: database.settings)

    return use


# --- validators (the test stories replay what these return) ----------------------


@pytest.mark.parametrize(
    "slot, text, value",
    [
        ("report_age", "중3이에요", "minor"),
        ("report_age", "미성년자예요", "minor"),
        ("report_age", "성인이예요", "adult"),
        ("report_age", "네", "minor"),
        ("report_online", "아직 있어요", "yes"),
        ("report_online", "지워졌어요", "no"),
        ("report_online", "잘 모르겠어요", SKIP),
        ("report_relation", "같은 학교 친구예요", "classmate"),
        ("report_relation", "아는 사람이에요", "known"),
        ("report_relation", "모르는 사람이에요", "stranger"),
        ("report_relation", "누군지 몰라요", "unknown"),
        ("report_age", "건너뛸래요", SKIP),
        ("report_relation", "우리반 남자애들인거같아", "classmate"),
        ("report_when", "지난주 금요일", "지난주 금요일"),
        ("report_when", "몰라", SKIP),
        # what a classifier reads as a crisis is still the answer to "when"
        ("report_when", "어제 밤", "어제 밤"),
        ("report_when", "밤에요", "밤에요"),
        ("report_when", "9월 말쯤?", "9월 말쯤?"),
        (
            "report_description",
            "반 단톡에서 누가 제 얼굴 합성한 사진을 돌렸대요",
            "반 단톡에서 누가 제 얼굴 합성한 사진을 돌렸대요",
        ),
    ],
)
def test_answers_become_values(slot, text, value):
    assert validate(slot, text)[slot] == value


def test_stored_values_stay_when_a_resumed_form_validates_them_again():
    for slot, value in [("report_age", "minor"),
                        ("report_relation", "unknown"), ("report_online", SKIP),
                        ("report_platform", "telegram"), ("report_link", "done"),
                        ("report_when", "지난주")]:  # fmt: skip
        assert validate(slot, value)[slot] == value


def test_stop_words_stop_but_not_inside_a_story():
    stopped = validate("report_age", "그만할래")
    assert stopped["report_stopped"] == "stopped" and stopped["report_age"] is None
    story = "그만하라고 했는데도 계속 사진을 올려서 너무 힘들었어요 정말로"
    assert validate("report_description", story)["report_description"] == story


def test_unclear_choice_asks_again_kindly():
    result = validate("report_relation", "음 그게")
    assert result["report_relation"] is None
    assert "버튼" in result["_messages"][0]["text"]


def test_platform_comes_from_the_entity_or_counts_as_other():
    entity = [{"entity": "platform", "value": "telegram"}]
    assert validate("report_platform", "텔레그램", entities=entity)["report_platform"] == "telegram"
    assert validate("report_platform", "어떤 게임 채팅방")["report_platform"] == "other"
    assert validate("report_platform", "건너뛸래요")["report_platform"] == SKIP


def test_a_question_is_answered_and_the_same_question_asked_again():
    asked = validate("report_when", "잠깐만 근데 이거 하면 엄마한테 연락가?", intent="ask_privacy")
    assert asked["report_when"] is None and asked["form_aside"] == "question"
    assert "부모" in " ".join(m["text"] for m in asked["_messages"]) or asked["_messages"]
    _, messages = run(ASK_ACTIONS["report_when"](), tracker(slots={"form_aside": "question"}))
    assert "언제" in messages[0]["text"]


def test_fear_at_a_question_gets_a_kind_word_and_the_question_again():
    aside = validate("report_age", "너무 무서워", intent="express_distress")
    assert aside["report_age"] is None and aside["form_aside"] == "aside"
    aside = validate("report_when", "무서워 ㅠㅠ 기억하기도 싫어", intent="express_distress")
    assert aside["report_when"] is None and aside["form_aside"] == "aside"


def test_links_are_collected_until_done():
    first = validate("report_link", "여기요 https://t.me/room/123, 그리고 www.example.com/a")
    assert first["report_links"] == ["https://t.me/room/123", "https://www.example.com/a"]
    assert first["report_link"] is None  # asked again: more links?
    known = {"report_links": first["report_links"]}
    again = validate("report_link", "https://t.me/room/123", slots=known)
    assert again["report_links"] == first["report_links"]  # no duplicates
    assert validate("report_link", "다 보냈어요")["report_link"] == "done"
    assert validate("report_link", "없어요")["report_link"] == "done"
    not_a_link = validate("report_link", "텔레그램 방이었어요")
    assert not_a_link["report_link"] is None and "https://" in not_a_link["_messages"][0]["text"]


@pytest.mark.parametrize(
    "text",
    ["javascript:alert(1)", "ftp://example.com/x", "https://localhost", "http://", "t.me"],
)
def test_what_is_not_a_web_link_is_ignored(text):
    assert reading.extract_links(text) == []


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_validators_never_raise(text):
    for slot in QUESTION_SLOTS + ("report_confirm",):
        validate(slot, text)
    reading.extract_links(text)
    for slot in ("report_age", "report_online", "report_relation"):
        reading.report_choice(slot, text)


def filled(**changes) -> Dict[str, Any]:
    slots = {
        "report_age": "minor", "report_platform": "telegram",
        "report_when": "지난주", "report_online": "yes", "report_relation": "classmate",
        "report_link": "done", "report_links": ["https://t.me/room/1"],
        "report_description": "단톡에 합성 사진이 돌았어요", "report_confirm": None,
    }  # fmt: skip
    slots.update(changes)
    return slots


def test_summary_then_confirm_or_correct():
    events, messages = run(ActionAskReportConfirm(), tracker(slots=filled()))
    summary = messages[0]["text"]
    assert "텔레그램" in summary and "https://t.me/room/1" in summary and "미성년자" in summary
    assert [b["payload"] for b in messages[0]["buttons"]] == ["맞아요", "고칠래요", "그만할래"]
    assert validate("report_confirm", "맞아요", filled())["report_confirm"] == "yes"
    fix = validate("report_confirm", "플랫폼 고칠래요", filled())
    assert fix["report_platform"] is None and fix["report_confirm"] is None
    links = validate("report_confirm", "링크 고칠래", filled())
    assert links["report_link"] is None and links["report_links"] == []
    which = validate("report_confirm", "아니요 틀렸어요", filled())
    assert which["report_fixing"] is True
    _, messages = run(ActionAskReportConfirm(), tracker(slots=filled(report_fixing=True)))
    assert len(messages[0]["buttons"]) == len(QUESTION_SLOTS)


def test_every_question_has_an_ask_action_with_a_skip_button():
    for slot in QUESTION_SLOTS:
        _, messages = run(ASK_ACTIONS[slot](), tracker(slots=filled(report_links=[])))
        assert messages[0]["text"] and messages[0]["buttons"][-1]["title"] == "건너뛸래요"
    _, messages = run(ASK_ACTIONS["report_link"](), tracker(slots=filled()))
    assert "1개" in messages[0]["text"]


def test_skipped_answers_are_stored_as_unknown():
    report = report_from_slots({slot: SKIP for slot in QUESTION_SLOTS})
    assert report == cases.Report(urls=[])


# --- saving, against the database -------------------------------------------------


def test_confirmed_report_is_saved_encrypted_before_the_code_is_told(db, using):
    using(db)
    events, messages = run(ActionReportEnd(), tracker(slots=filled(report_confirm="yes")))
    code = next(e["value"] for e in events if e.get("name") == "report_code")
    assert code in messages[0]["text"]
    assert SlotSet("report_age", None) in events
    with db.session() as session:
        case = session.execute(select(Case)).scalar_one()
        assert case.code == code and case.platform == "telegram" and case.minor is True
        assert case.description == "단톡에 합성 사진이 돌았어요" and case.risk_level == "high"
        assert case.urls == ["https://t.me/room/1"] and case.channel == "unknown"
    with db.raw() as connection:
        raw = str(connection.exec_driver_sql("SELECT * FROM cases").fetchall())
    assert "합성" not in raw and "t.me" not in raw and SENDER not in raw


def test_a_failed_save_says_so_and_keeps_the_answers(db, using, tmp_path):
    broken = Db(f"sqlite:///{tmp_path / 'missing' / 'no-tables.db'}", db.settings, None)
    broken.settings = type(db.settings)(**{**db.settings.__dict__,
                                           "database_url": broken.url})  # fmt: skip
    using(broken)
    events, messages = run(ActionReportEnd(), tracker(slots=filled(report_confirm="yes")))
    assert "저장하지 못했어요" in messages[0]["text"] and "1366" in messages[0]["text"]
    assert not any(e.get("name") == "report_code" for e in events)
    assert not any(e.get("name") == "report_description" for e in events)


def test_stopped_report_is_not_saved(db, using):
    using(db)
    events, messages = run(ActionReportEnd(), tracker(slots=filled(report_stopped="stopped")))
    assert "저장하지 않았어요" in messages[0]["text"]
    # Paused, so "아까 하던 신고 이어서 하자" goes on where it stopped.
    assert events == [SlotSet("report_stopped", None), SlotSet("paused_form", "report_form")]
    assert db.count("cases") == 0


def test_evidence_hashes_open_a_case_then_join_the_report(db, using):
    using(db)
    digest = hashlib.sha256(b"screenshot").hexdigest()
    payload = [
        {"entity": "sha256", "value": digest.upper()},
        {"entity": "name", "value": "<script>캡처.png"},
        {"entity": "size", "value": 1234},
        {"entity": "captured_at", "value": "2026-11-20T10:00:00Z"},
    ]
    _, messages = run(ActionAddEvidence(), tracker("/add_evidence", entities=payload))
    assert "SHA-256" in messages[0]["text"]
    run(ActionReportEnd(), tracker(slots=filled(report_confirm="yes")))
    with db.session() as session:
        case = session.execute(select(Case)).scalar_one()  # one case, evidence and report
        item = session.execute(select(EvidenceItem)).scalar_one()
        assert item.case_id == case.id and item.sha256 == digest
        assert item.name == "<script>캡처.png" and item.captured_at.day == 20
        assert case.description is not None


@pytest.mark.parametrize(
    "entities",
    [
        [],
        [{"entity": "sha256", "value": 5}],
        [{"entity": "sha256", "value": "abc"}],
        [{"entity": "sha256", "value": ["x"]}],
        [{"entity": "sha256", "value": "g" * 64}],
    ],
)
def test_bad_evidence_payloads_get_a_kind_reply_and_store_nothing(db, using, entities):
    using(db)
    _, messages = run(ActionAddEvidence(), tracker("/add_evidence", entities=entities))
    assert "읽지 못했어요" in messages[0]["text"]
    assert db.count("evidence_items") == 0 and db.count("cases") == 0


def test_evidence_advice_follows_platform_and_perspective(db, using):
    using(db)
    _, messages = run(ActionEvidenceHelp(), tracker(slots={"platform": "telegram"}))
    assert "초대 링크" in messages[0]["text"] and "내려받지" in messages[0]["text"]
    bystander = tracker("친구 사진이 올라왔는데 증거 어떻게 남겨", slots={"stance": "bystander"})
    _, messages = run(ActionEvidenceHelp(), bystander)
    texts = "\n".join(m["text"] for m in messages)
    assert "목격한 사람" in texts and "초대 링크" not in texts
    assert len(messages) == 2  # two bubbles; no case, no evidence log link


def test_evidence_advice_gives_a_fresh_evidence_log_link_to_a_case(db, using):
    using(db)
    events, _ = run(ActionReportEnd(), tracker(slots=filled(report_confirm="yes")))
    code = next(e["value"] for e in events if e.get("name") == "report_code")
    _, messages = run(ActionEvidenceHelp(), tracker())
    assert "초대 링크" in messages[0]["text"]  # the case's platform, Telegram
    assert code in messages[-1]["text"] and "/evidence/" in messages[-1]["text"]


def test_takedown_request_is_filled_from_the_case(db, using):
    using(db)
    run(ActionReportEnd(), tracker(slots=filled(report_confirm="yes")))
    _, messages = run(ActionTakedownHelp(), tracker())
    advice = "\n".join(m["text"] for m in messages[:-1])
    assert "1366" in advice and "Report" in advice
    request = messages[-1]["text"]
    assert "https://t.me/room/1" in request and "지난주" in request and "JK-" in request
    assert [b["title"] for b in messages[-1]["buttons"]][-1] == "근거 보기"
    _, messages = run(ActionTakedownHelp(), tracker(sender="someone-else"))
    assert "(링크)" in messages[-1]["text"] and "JK-" not in messages[-1]["text"]


def test_delete_my_data_erases_this_conversation_only(db, using):
    using(db)
    run(ActionReportEnd(), tracker(slots=filled(report_confirm="yes")))
    run(ActionReportEnd(), tracker(slots=filled(report_confirm="yes"), sender="other"))
    events, messages = run(ActionDeleteMyData(), tracker())
    assert events == [Restarted()]
    assert "신고 기록 1개" in messages[0]["text"]
    assert db.count("cases") == 1  # the other conversation's


def test_only_the_detector_or_a_confirmed_check_pages_a_counsellor():
    """A classifier-only crisis (no `danger` entity) gets a gentle check, and
    no urgent SMS to a counsellor (false positives)."""
    from actions.handoff import ActionCrisisHandoff

    events, messages = run(ActionCrisisHandoff(), tracker("살 빼고 싶어", intent="crisis"))
    assert events == [] and messages == []


def test_a_link_question_answered_twice_without_a_link_moves_on():
    """The form asks its question again after "not a link": the second answer
    that is no link either is taken as no link, not asked for a third time."""
    not_a_link = " ".join(question("report_link")["not_a_link"].split())
    first = validate("report_link", "텔방이었음")
    assert first["report_link"] is None
    assert [m["text"] for m in first["_messages"]] == [not_a_link]
    said = [
        {"event": "user", "text": "텔방이었음"},
        {"event": "bot", "text": not_a_link},
        {"event": "bot", "text": " ".join(question("report_link")["ask_short"].split())},
        {"event": "user", "text": "기억 안 나"},
    ]
    second = validate("report_link", "기억 안 나", events=said)
    assert second["report_link"] == "done"


def test_a_platform_corrected_unasked_is_changed_and_said_so():
    # The extractor may miss the platform after the correction ("디코였음"):
    # the words after 말고 / 아니고 still name it.
    said = [{"entity": "platform", "value": "kakaotalk", "start": 0, "end": 2}]
    result = validate(
        "report_age", "카톡 말고 디코였음", slots={"report_platform": "kakaotalk"}, entities=said
    )
    assert result["report_platform"] == "discord" and result["report_age"] is None
    assert result["_messages"][0]["text"] == content.message("report_corrected").text
    # Named once, not corrected: kept only when that question had no answer yet.
    result = validate("report_age", "카톡", slots={"report_platform": "discord"}, entities=said)
    assert "report_platform" not in result


def test_a_takedown_or_evidence_question_in_the_form_is_answered_in_short():
    result = validate(
        "report_age", "해외 사이트에 올라간 것도 지워줄 수 있어요?", intent="ask_takedown"
    )
    assert result["form_aside"] == "question"
    assert "1366" in result["_messages"][0]["text"]
    result = validate("report_when", "증거는 어떻게 남겨야 돼요?", intent="ask_evidence")
    assert any("캡처" in m["text"] for m in result["_messages"])


@pytest.mark.parametrize(
    "slot, text, response",
    [
        (
            "report_age",
            "근데 우리 오빠도 자기 사진 돌았대 회사 다니는데 직장인이라",
            "utter_other_case_adult",
        ),
        ("report_relation", "아 그리고 제 친구도 당했대요", "utter_other_case"),
    ],
)
def test_another_persons_case_is_no_answer_for_her(slot, text, response):
    result = validate(slot, text)
    assert result[slot] is None and result["form_aside"] == "question"
    assert [m.get("response") for m in result["_messages"]] == [response]
