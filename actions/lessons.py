"""Lessons: an answer from content/ for each learning intent, deeper on "더 알려줘"."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import repeated, role_of, send
from jikimi import content, reading

# A teacher or parent telling that their student or child is the victim, or a
# friend asking about reporting for the victim (the context policy routes them
# here), gets the version of the lesson on helping a victim.
ADULT_TOPIC = {"report_incident": "ask_bystander_help"}
ADULT_STANCE_TOPIC = {"involved": "disclose_involvement", "victim": "ask_bystander_help"}


def _topic(tracker: Tracker, role: Text) -> Text:
    topic = tracker.get_intent_of_latest_message()
    stance = tracker.get_slot("stance")
    text = tracker.latest_message.get("text") or ""
    if stance is None and role == "student" and reading.worry(text):
        return "ask_prevention"  # "합성당할까봐 걱정돼": how to protect one's photos
    if (
        stance is None
        and topic in ("disclose_involvement", "report_incident", "ask_bystander_help")
        and reading.hypothetical(text)
    ):
        return "ask_law"  # "만들어서 퍼뜨리면 어케됨": the law, not a disclosure
    if (
        role in ("teacher", "parent")
        and stance
        and (topic not in content.lesson_topics() or reading.asks_how_to_help(text))
    ):
        # Their follow-up about helping: the lesson for their student's or child's position.
        return ADULT_STANCE_TOPIC.get(stance, "ask_bystander_help")
    if stance == "involved" and role == "student" and reading.asks_penalty(text):
        return "ask_law"  # "걸리면 나 어떻게 됨": what he faces
    if stance == "involved" and topic in ("ask_bystander_help", "report_incident", "nlu_fallback"):
        return "disclose_involvement"  # what he did, whatever the classifier read
    if stance == "bystander" and topic in ("nlu_fallback", "disclose_involvement"):
        # "친구 사진으로 누가 합성해서 올렸는데 어케 도와줘": a friend, not the one who did it.
        return "ask_bystander_help"
    if role in ("teacher", "parent") or stance == "bystander":
        topic = ADULT_TOPIC.get(topic, topic)
    return topic


class ActionLesson(Action):
    """First level of the lesson for the intent the user just expressed; the
    same question right after its answer gets the next level instead."""

    def name(self) -> Text:
        return "action_lesson"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        role = role_of(tracker)
        topic = _topic(tracker, role)
        if topic not in content.lesson_topics():
            # A rule sent an intent here that has no lesson: offer the topics.
            return [FollowupAction("action_clarify")]
        if topic == tracker.get_slot("lesson_topic") and _lesson_just_given(tracker):
            return [FollowupAction("action_lesson_more")]
        send(dispatcher, content.lesson(topic, role, 0), tracker)
        return [SlotSet("lesson_topic", topic), SlotSet("lesson_depth", 0)]


def _lesson_just_given(tracker: Tracker) -> bool:
    """The previous bot turn was a lesson (the same question asked again)."""
    return repeated(tracker, "action_lesson") or repeated(tracker, "action_lesson_more")


class ActionLessonMore(Action):
    """The next level of the lesson just given, or the menu when it is the last."""

    def name(self) -> Text:
        return "action_lesson_more"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        topic = tracker.get_slot("lesson_topic")
        if topic not in content.lesson_topics():
            dispatcher.utter_message(response="utter_affirm")
            return []
        role = role_of(tracker)
        depth = int(tracker.get_slot("lesson_depth") or 0) + 1
        if depth >= content.lesson_depths(topic, role):
            send(dispatcher, content.messages("lesson_end"))
            return [SlotSet("lesson_depth", depth - 1)]
        send(dispatcher, content.lesson(topic, role, depth), tracker)
        return [SlotSet("lesson_depth", depth)]


class ActionInvolvedAnswer(Action):
    """The one who made, shared, bought or watched asks what now: each question
    (자수, 사과, 지우면 되나, 경찰이 오나, 어떡해, ...) gets its own direct answer
    (content/involved.yml), never "it is not your fault" and never the same
    lesson again."""

    def name(self) -> Text:
        return "action_involved_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        text = tracker.latest_message.get("text")
        topic = reading.involved_topic(text)
        intent = tracker.get_intent_of_latest_message()
        if topic is None:
            topic = "worried" if intent == "express_distress" else "what_now"
        send(dispatcher, content.involved(topic, role_of(tracker)), tracker)
        return [SlotSet("lesson_topic", "disclose_involvement")]
