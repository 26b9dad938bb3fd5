"""Lessons: an answer from content/ for each learning intent, deeper on "더 알려줘"."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import current_role, send
from jikimi import content


class ActionLesson(Action):
    """First level of the lesson for the intent the user just expressed."""

    def name(self) -> Text:
        return "action_lesson"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        topic = tracker.get_intent_of_latest_message()
        if topic not in content.lesson_topics():
            # A rule sent an intent here that has no lesson: offer the topics.
            return [FollowupAction("action_clarify")]
        role = current_role(tracker)
        send(dispatcher, content.lesson(topic, role, 0))
        return [
            SlotSet("lesson_topic", topic),
            SlotSet("lesson_depth", 0),
            SlotSet("user_role", role),
        ]


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
        role = current_role(tracker)
        depth = int(tracker.get_slot("lesson_depth") or 0) + 1
        if depth >= content.lesson_depths(topic, role):
            send(dispatcher, [content.message("lesson_end")])
            return [SlotSet("lesson_depth", depth - 1)]
        send(dispatcher, content.lesson(topic, role, depth))
        return [SlotSet("lesson_depth", depth), SlotSet("user_role", role)]
