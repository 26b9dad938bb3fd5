""" "근거 보기": every reply that states facts carries the button, its payload names
those facts, and action_show_sources shows their articles and source titles in
phone-sized bubbles (after a lesson, with "더 알려줘" again); during the quiz the
validator shows them and asks the same question again."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.quiz import ValidateQuizForm
from actions.sources import ActionShowSources, previous_action, source_ids
from jikimi import content


def payload_of(button: content.Button) -> Dict[str, Any]:
    assert button.title == content.SOURCES_TITLE
    intent, _, entities = button.payload[1:].partition("{")
    assert intent == content.SOURCES_INTENT
    return json.loads("{" + entities)


def tracker(
    source_ids_value: Optional[str],
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    intent: str = content.SOURCES_INTENT,
) -> Tracker:
    entities = (
        [] if source_ids_value is None
        else [{"entity": content.SOURCES_ENTITY, "value": source_ids_value}]
    )  # fmt: skip
    latest = {"intent": {"name": intent, "confidence": 1.0}, "text": "/x", "entities": entities}
    return Tracker("s1", slots or {}, latest, events or [], False, None, {}, "action_listen")


def run(t: Tracker) -> List[Dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    assert asyncio.run(ActionShowSources().run(dispatcher, t, {})) == []
    return dispatcher.messages


def after(action: str) -> List[Dict[str, Any]]:
    """Events of a conversation whose last bot action before this message was `action`."""
    return [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "법은 어떻게 돼요?"},
        {"event": "action", "name": action},
        {"event": "bot", "text": "..."},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "/show_sources"},
    ]


def test_a_lesson_button_names_the_facts_its_bubbles_state():
    replies = content.lesson("ask_law", "student", 1)
    ids = payload_of(replies[-1].buttons[-1])[content.SOURCES_ENTITY].split()
    assert ids == list(dict.fromkeys(ids))
    assert set(ids) == set(content.facts_of(replies))
    assert {"law.make", "law.possess", "law.unwanted_view"} <= set(ids)
    assert all(f in content.all_facts() for f in ids)


def test_the_sources_show_articles_and_titles_in_phone_sized_bubbles():
    ids = "law.make law.possess law.minor_ruling commission.delay hotline.1366"
    messages = run(tracker(ids))
    text = "\n".join(m["text"] for m in messages)
    assert text.startswith(content.messages("sources_intro")[0].text)
    assert "성폭력처벌법 제14조의2제1항·제14조의2제4항" in text  # one law named once
    assert "2024도17801" in text and "방미심위 심의 공백" in text
    assert "※" in text  # commission.delay is `partly`, and the outro says what ※ means
    assert all(len(m["text"]) <= content.BUBBLE_MAX for m in messages)
    assert len(messages) <= content.BUBBLES_MAX
    assert not any(m["buttons"] for m in messages)  # not after a lesson


def test_every_reply_with_a_sources_button_has_sources_that_fit():
    """The biggest source lists there are fit in at most four bubbles."""
    replies = [
        r
        for topic in content.lesson_topics()
        for role in content.ROLES
        for depth in range(content.lesson_depths(topic, role))
        for r in content.lesson(topic, role, depth)
    ]
    replies += [r for q in content.quiz_questions() for r in content.quiz_feedback(q, 0)]
    buttons = [b for r in replies for b in r.buttons if b.title == content.SOURCES_TITLE]
    assert len(buttons) > 50
    for button in buttons:
        ids = payload_of(button)[content.SOURCES_ENTITY].split()
        notes = content.source_notes(ids)
        assert 1 <= len(notes) <= content.BUBBLES_MAX
        assert all(len(n.text) <= content.BUBBLE_MAX for n in notes)


def test_unknown_or_missing_ids_get_a_plain_answer_not_an_error():
    for value in (None, "", "no.such_fact", "law.make no.such_fact"):
        messages = run(tracker(value))
        assert messages and all(m["text"] for m in messages)
    assert run(tracker("no.such_fact"))[0]["text"] == content.messages("sources_none")[0].text
    assert "제14조의2제1항" in run(tracker("law.make no.such_fact"))[0]["text"]


def test_sources_asked_in_words_are_those_of_the_last_button_shown():
    button = content.sources_button(["law.possess"])
    events = [
        {"event": "bot", "text": "...", "data": {"buttons": [{"title": "x", "payload": "/a"}]}},
        {"event": "bot", "text": "...", "data": {"buttons": [button.__dict__]}},
        {"event": "user", "text": "근거는 어디서 나온 거예요?"},
    ]
    messages = run(tracker(None, events=events, intent="nlu_fallback"))
    assert "제14조의2제4항" in messages[0]["text"]
    # Nothing offered yet: the plain answer, not an error.
    assert run(tracker(None, events=events[:1], intent="nlu_fallback"))[0]["text"] == (
        content.messages("sources_none")[0].text
    )


def test_ids_come_from_the_entity_in_order_once():
    t = tracker("law.possess law.make law.possess")
    assert source_ids(t) == ["law.possess", "law.make"]


def test_after_a_lesson_level_the_sources_offer_more_of_it():
    slots = {"lesson_topic": "ask_law", "lesson_depth": 0, "user_role": "student"}
    messages = run(tracker("law.make", slots, after("action_lesson")))
    assert messages[-1]["buttons"] == [{"title": "더 알려줘", "payload": "/affirm"}]
    # Not after the last level, nor after something else than a lesson.
    last = content.lesson_depths("ask_law") - 1
    slots_last = {**slots, "lesson_depth": last}
    assert not run(tracker("law.make", slots_last, after("action_lesson_more")))[-1]["buttons"]
    assert not run(tracker("law.make", slots, after("action_privacy")))[-1]["buttons"]
    # A teacher gets the polite title.
    teacher = {**slots, "user_role": "teacher"}
    buttons = run(tracker("law.make", teacher, after("action_lesson")))[-1]["buttons"]
    assert buttons == [{"title": "더 알려 주세요", "payload": "/affirm"}]


def test_previous_action_is_the_bot_turn_before_the_latest_message():
    assert previous_action(tracker("x", events=after("action_lesson_more"))) == "action_lesson_more"
    assert previous_action(tracker("x", events=[])) is None


def test_sources_during_the_quiz_are_shown_and_the_question_asked_again():
    question = content.quiz_questions()[0]
    slots = {"quiz_ids": [question.id, "view_only"], "quiz_index": 0, "quiz_score": 0}
    t = tracker("law.make", {**slots, "requested_slot": "quiz_answer"})
    dispatcher = CollectingDispatcher()
    result = asyncio.run(
        ValidateQuizForm().validate_quiz_answer(t.latest_message["text"], dispatcher, t, {})
    )
    assert result == {"quiz_answer": None}  # not an answer: the same question again
    assert "제14조의2제1항" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize("question", content.quiz_questions(), ids=lambda q: q.id)
def test_quiz_feedback_is_two_bubbles_with_the_sources_button(question):
    replies = content.quiz_feedback(question, question.answer)
    assert len(replies) == 2 and replies[-1].text == question.explanation
    assert set(payload_of(replies[-1].buttons[-1])[content.SOURCES_ENTITY].split()) >= set(
        question.facts
    )
