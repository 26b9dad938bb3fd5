""" "근거 보기": the sources behind the reply the button sat under.

A student's text carries no article numbers; every reply that states facts gets a
"근거 보기" button whose payload names those facts
(`/show_sources{"source_ids": "law.make law.possess"}`, built by
jikimi.content.sources_button). The payload is the whole state: the button
works in any order, after a restart, and on SMS as a numbered choice. Unknown
ids (a button from older content) are left out; with none left, the student is
told so.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import role_of, send
from jikimi import content

LESSON_ACTIONS = ("action_lesson", "action_lesson_more")


def source_ids(tracker: Tracker) -> List[Text]:
    """The fact ids of the latest message's `source_ids` entities, in order."""
    ids: List[Text] = []
    for value in tracker.get_latest_entity_values(content.SOURCES_ENTITY):
        if isinstance(value, str):
            ids.extend(value.split())
    return list(dict.fromkeys(ids))


def offered_ids(tracker: Tracker) -> List[Text]:
    """The fact ids of the latest "근거 보기" button the bot showed: "출처도 알려
    줄 수 있어요?" typed instead of tapping it."""
    prefix = f"/{content.SOURCES_INTENT}"
    for event in reversed(tracker.events):
        if event.get("event") != "bot":
            continue
        for button in reversed((event.get("data") or {}).get("buttons") or []):
            payload = str(button.get("payload") or "")
            if payload.startswith(prefix + "{"):
                try:
                    ids = json.loads(payload[len(prefix) :]).get(content.SOURCES_ENTITY, "")
                except ValueError:
                    continue
                return str(ids).split()
    return []


def previous_action(tracker: Tracker) -> Optional[Text]:
    """The last action the bot ran before the latest user message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and event.get("event") == "action":
            if event.get("name") != "action_listen":
                return event.get("name")
    return None


def more_of_the_lesson(tracker: Tracker) -> Optional[content.Button]:
    """ "더 알려줘" again when the sources were asked right after a lesson level
    that has a next one (bot/rules/sources.yml maps the affirm to it)."""
    if previous_action(tracker) not in LESSON_ACTIONS:
        return None
    topic, role = tracker.get_slot("lesson_topic"), role_of(tracker)
    if topic not in content.lesson_topics() or role not in content.ROLES:
        return None
    depth = int(tracker.get_slot("lesson_depth") or 0)
    if depth + 1 >= content.lesson_depths(topic, role):
        return None
    return content.Button(content.MORE_TITLE[role], content.MORE_PAYLOAD)


def asked_for_sources(tracker: Tracker) -> bool:
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return intent == content.SOURCES_INTENT


class ActionShowSources(Action):
    """show_sources: the law articles and source titles of the facts named."""

    def name(self) -> Text:
        return "action_show_sources"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        notes = content.source_notes(source_ids(tracker) or offered_ids(tracker))
        more = more_of_the_lesson(tracker)
        if more is not None:
            last = notes[-1]
            notes[-1] = content.Reply(last.text, last.buttons + (more,), last.facts)
        send(dispatcher, notes)
        return []
