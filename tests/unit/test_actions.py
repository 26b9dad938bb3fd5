"""Lesson, quiz and fallback actions on real trackers: full event lists and messages."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionClarify
from actions.lessons import ActionLesson, ActionLessonMore
from actions.quiz import (
    QUESTIONS_PER_QUIZ,
    ActionAskQuizAnswer,
    ActionQuizEnd,
    ActionStartQuiz,
    ValidateQuizForm,
)
from jikimi import content, reading


def tracker(intent="greet", text="", slots=None, ranking=None, active_loop=None):
    latest = {
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
        "text": text,
        "entities": [],
    }
    return Tracker(
        "test",
        slots or {},
        latest,
        [],
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return events, dispatcher.messages


@pytest.mark.parametrize(
    "text, role",
    [
        ("교사입니다. 우리 반에서 이런 일이 생겼어요", "teacher"),
        ("중학교 담임인데요 법적으로 어떻게 돼요", "teacher"),
        ("저 선생님인데 학생이 피해를 입었대요", "teacher"),
        ("저희 아이가 피해를 입은 것 같아요", "parent"),
        ("학부모입니다", "parent"),
        ("엄마인데요 딸 사진이 돌아다닌대요", "parent"),
        ("상담 선생님이랑 얘기하고 싶어요", None),
        ("선생님께 말해야 돼?", None),
        ("딥페이크가 뭐야", None),
        ("", None),
        (None, None),
    ],
)
def test_detect_role(text, role):
    # The context policy sets user_role from this (bot/policies/context.py).
    assert reading.role(text) == role


def test_lesson_sends_the_first_level_and_remembers_topic_and_role():
    events, messages = run(ActionLesson(), tracker("ask_law", "법 알려줘"))
    assert events == [SlotSet("lesson_topic", "ask_law"), SlotSet("lesson_depth", 0)]
    expected = content.lesson("ask_law", "student", 0)
    assert [m["text"] for m in messages] == [r.text for r in expected]
    assert messages[-1]["buttons"][0] == {"title": "더 알려줘", "payload": "/affirm"}


def test_teacher_gets_the_teacher_lesson():
    _, messages = run(
        ActionLesson(),
        tracker("ask_law", "교사입니다. 법적으로 학교는 뭘 해야 하나요", {"user_role": "teacher"}),
    )
    assert [m["text"] for m in messages] == [
        r.text for r in content.lesson("ask_law", "teacher", 0)
    ]


def test_role_is_kept_from_the_slot():
    _, messages = run(
        ActionLesson(), tracker("ask_bystander_help", "어떻게 해요", {"user_role": "parent"})
    )
    assert messages[0]["text"] == content.lesson("ask_bystander_help", "parent", 0)[0].text


def test_lesson_without_content_asks_back():
    events, messages = run(ActionLesson(), tracker("report_incident"))
    assert events == [FollowupAction("action_clarify")] and messages == []


def test_an_adult_or_a_friend_telling_of_a_victim_gets_the_helping_lesson():
    _, messages = run(ActionLesson(), tracker("report_incident", "", {"user_role": "parent"}))
    assert messages[0]["text"] == content.lesson("ask_bystander_help", "parent", 0)[0].text
    _, messages = run(ActionLesson(), tracker("report_incident", "", {"stance": "bystander"}))
    assert messages[0]["text"] == content.lesson("ask_bystander_help", "student", 0)[0].text


def test_more_walks_the_levels_then_ends():
    topic = "ask_law"
    depths = content.lesson_depths(topic)
    slots = {"lesson_topic": topic, "lesson_depth": 0}
    for depth in range(1, depths):
        events, messages = run(ActionLessonMore(), tracker("affirm", "더 알려줘", slots))
        assert SlotSet("lesson_depth", depth) in events
        assert messages[0]["text"] == content.lesson(topic, "student", depth)[0].text
        slots["lesson_depth"] = depth
    events, messages = run(ActionLessonMore(), tracker("affirm", "더 알려줘", slots))
    assert messages[0]["text"] == content.message("lesson_end").text
    assert events == [SlotSet("lesson_depth", depths - 1)]


def quiz_slots(ids, index=0, score=0):
    return {"quiz_ids": ids, "quiz_index": index, "quiz_score": score}


def test_start_quiz_draws_distinct_questions():
    events, messages = run(ActionStartQuiz(), tracker("start_quiz"))
    ids = events[0]["value"]
    assert events[0]["name"] == "quiz_ids"
    assert len(ids) == len(set(ids)) == QUESTIONS_PER_QUIZ
    assert set(ids) <= {q.id for q in content.quiz_questions()}
    assert events[1:] == [
        SlotSet("quiz_index", 0),
        SlotSet("quiz_score", 0),
        SlotSet("quiz_answer", None),
    ]
    assert f"{QUESTIONS_PER_QUIZ}문제" in messages[0]["text"]


def test_ask_shows_the_current_question_with_answer_buttons():
    question = next(q for q in content.quiz_questions() if q.kind == "choice")
    _, messages = run(ActionAskQuizAnswer(), tracker(slots=quiz_slots(["x", question.id], 1)))
    assert question.prompt in messages[0]["text"] and "퀴즈 2/2" in messages[0]["text"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads[: len(question.choices)] == [
        f"{i}번" for i in range(1, len(question.choices) + 1)
    ]


def validate(text, slots, intent="affirm"):
    dispatcher = CollectingDispatcher()
    result = asyncio.run(
        ValidateQuizForm().validate_quiz_answer(text, dispatcher, tracker(intent, text, slots), {})
    )
    return result, dispatcher.messages


def answer_text(question, index):
    return question.choices[index] if question.kind == "ox" else f"{index + 1}번"


def test_right_answer_scores_and_moves_on():
    questions = content.quiz_questions()[:2]
    ids = [q.id for q in questions]
    result, messages = validate(answer_text(questions[0], questions[0].answer), quiz_slots(ids))
    assert result == {"quiz_index": 1, "quiz_score": 1, "quiz_answer": None}
    assert messages[0]["text"].startswith("맞아요")
    # The answer, then the explanation with "근거 보기" under it (two bubbles).
    assert messages[1]["text"] == questions[0].explanation
    assert messages[1]["buttons"][-1]["title"] == content.SOURCES_TITLE


def test_wrong_last_answer_explains_kindly_and_ends():
    question = content.quiz_questions()[0]
    wrong = (question.answer + 1) % len(question.choices)
    result, messages = validate(answer_text(question, wrong), quiz_slots([question.id], 0, 3))
    assert result == {"quiz_index": 1, "quiz_score": 3, "quiz_answer": "done"}
    assert "맞아요" not in messages[0]["text"]
    assert messages[1]["text"] == question.explanation


@pytest.mark.parametrize("text", ["그만할래", "퀴즈 그만", "이제 안 할래", "stop"])
def test_stop_words_end_the_quiz(text):
    question = content.quiz_questions()[1]
    result, messages = validate(text, quiz_slots([question.id]), intent="deny")
    assert result == {"quiz_answer": "stopped"} and messages == []


def test_a_call_for_help_ends_the_quiz_and_is_answered():
    question = next(q for q in content.quiz_questions() if q.kind == "choice")
    result, _ = validate(
        "저 사실 피해자예요 신고하고 싶어요", quiz_slots([question.id]), intent="report_incident"
    )
    assert result == {"quiz_answer": "report_incident"}
    slots = {**quiz_slots([question.id]), "quiz_answer": "report_incident"}
    events, messages = run(ActionQuizEnd(), tracker(slots=slots))
    assert messages == []
    assert events[-1] == FollowupAction("utter_report_incident")


def test_an_answer_counts_even_when_nlu_reads_it_as_a_call_for_help():
    question = next(q for q in content.quiz_questions() if q.kind == "choice")
    result, _ = validate("2번", quiz_slots([question.id, "x"]), intent="request_counsellor")
    assert result["quiz_index"] == 1


def test_unclear_answer_asks_again():
    question = next(q for q in content.quiz_questions() if q.kind == "choice")
    result, messages = validate("음 글쎄 뭐지", quiz_slots([question.id]), intent="nlu_fallback")
    assert result == {"quiz_answer": None}
    assert messages[0]["text"] == content.message("quiz_unclear").text


def test_quiz_end_gives_the_score_or_a_kind_stop():
    done = {**quiz_slots(["a", "b", "c"], 3, 2), "quiz_answer": "done"}
    events, messages = run(ActionQuizEnd(), tracker(slots=done))
    assert messages[0]["text"] == content.message("quiz_score", score=2, total=3).text
    assert events == [
        SlotSet("quiz_ids", None),
        SlotSet("quiz_index", None),
        SlotSet("quiz_score", None),
        SlotSet("quiz_answer", None),
        SlotSet("quiz_result", "3문제 중 2문제를 맞혔어요"),
    ]
    # Stopped after one answer: the result kept is of that one ("나 몇점임?").
    stopped = {**quiz_slots(["a", "b", "c"], 1, 1), "quiz_answer": "stopped"}
    events, messages = run(ActionQuizEnd(), tracker(slots=stopped))
    assert messages[0]["text"] == content.message("quiz_stopped").text
    assert SlotSet("quiz_result", "1문제 중 1문제를 맞혔어요") in events
    # Stopped before any answer: no result to keep.
    stopped = {**quiz_slots(["a", "b", "c"], 0, 0), "quiz_answer": "stopped"}
    events, _ = run(ActionQuizEnd(), tracker(slots=stopped))
    assert SlotSet("quiz_result", None) in events


def test_clarify_offers_the_two_likeliest_topics_never_crisis():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "crisis", "confidence": 0.3},
        {"name": "ask_takedown", "confidence": 0.25},
        {"name": "delete_my_data", "confidence": 0.2},
        {"name": "ask_law", "confidence": 0.1},
    ]
    _, messages = run(ActionClarify(), tracker("nlu_fallback", "음", ranking=ranking))
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "/ask_takedown",
        "/delete_my_data",
        "/greet",
    ]


def test_every_domain_intent_has_a_topic_label():
    import yaml

    from jikimi.settings import ROOT

    domain = yaml.safe_load((ROOT / "bot" / "domain" / "core.yml").read_text())
    assert set(content.topics()) == set(domain["intents"])


def test_why_gets_the_last_explanation_and_the_question_again():
    questions = content.quiz_questions()[:2]
    ids = [q.id for q in questions]
    result, messages = validate("엥 그게 왜 답이야?", quiz_slots(ids, 1), intent="nlu_fallback")
    assert result == {"quiz_answer": None, "form_aside": "question"}
    assert questions[0].explanation in messages[0]["text"]
    assert messages[0]["text"] != questions[0].explanation  # not the bubble just above
    # Before any answer there is nothing to explain: not understood, asked again.
    result, _ = validate("왜?", quiz_slots(ids, 0), intent="nlu_fallback")
    assert "form_aside" not in result


def test_by_sms_the_sources_button_waits_for_the_last_question():
    # One turn's SMS buttons are numbered together: "1. 근거 보기" before the
    # next question would shift its answers by one.
    questions = content.quiz_questions()[:2]
    ids = [q.id for q in questions]
    sms = Tracker(
        "test", quiz_slots(ids),
        {"intent": {"name": "affirm", "confidence": 0.9}, "text": "1", "entities": []},
        [{"event": "user", "text": "1", "input_channel": "jikimi_sms"}],
        False, None, {"name": "quiz_form"}, "action_listen",
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    text = answer_text(questions[0], questions[0].answer)
    asyncio.run(ValidateQuizForm().validate_quiz_answer(text, dispatcher, sms, {}))
    assert all(not m["buttons"] for m in dispatcher.messages)
    # On the web (and on the last question) the button stays.
    _, messages = validate(text, quiz_slots(ids))
    assert messages[-1]["buttons"]


def test_stopping_with_a_question_answers_it():
    question = content.quiz_questions()[1]
    result, _ = validate(
        "그만할래 대신 캡처 어떻게 하는지 알려줘", quiz_slots([question.id]), "ask_evidence"
    )
    assert result == {"quiz_answer": "stopped_then:action_evidence_help"}
    slots = {**quiz_slots([question.id]), "quiz_answer": "stopped_then:action_evidence_help"}
    events, messages = run(ActionQuizEnd(), tracker(slots=slots))
    assert messages[0]["text"] == content.message("quiz_stopped_then").text
    assert events[-1] == FollowupAction("action_evidence_help")


def test_a_number_asked_again_in_the_quiz_is_the_last_one_said():
    questions = content.quiz_questions()[:2]
    said = [
        {"event": "bot", "text": "삭제 지원은 디지털성범죄 피해상담 1366에 요청할 수 있어요."},
        {"event": "user", "text": "퀴즈 ㄱ"},
        {"event": "active_loop", "name": "quiz_form"},
        {"event": "bot", "text": "퀴즈 1/5\n학교폭력 신고 번호는?\n① 117\n② 119\n③ 109"},
        # The quiz's own feedback names a number: not the one she was told to call.
        {"event": "bot", "text": "1388은 365일 24시간 열려 있어요."},
    ]
    t = Tracker(
        "test", quiz_slots([q.id for q in questions]),
        {"intent": {"name": "nlu_fallback", "confidence": 0.3}, "text": "아까 그 번호 몇번이었지?",
         "entities": []},
        said, False, None, {"name": "quiz_form"}, "action_listen",
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    result = asyncio.run(
        ValidateQuizForm().validate_quiz_answer("아까 그 번호 몇번이었지?", dispatcher, t, {})
    )
    assert result == {"quiz_answer": None, "form_aside": "question"}
    assert "1366" in dispatcher.messages[0]["text"]
    assert not any("117" in m["text"] for m in dispatcher.messages)  # no answer given away
    assert not any("1388" in m["text"] for m in dispatcher.messages)
