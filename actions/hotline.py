"""A question about one of the numbers the bot gives ("1388은 문자도 돼요?"):
that service as content/resources.yml describes it (channels, hours, what it
does and does not do), each in its own bubble."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import send
from jikimi import content, reading

MAX_SERVICES = 2  # one or two numbers asked about; more is a list, not an answer


class ActionHotline(Action):
    """The services named in the message, from content/resources.yml."""

    def name(self) -> Text:
        return "action_hotline"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        text = tracker.latest_message.get("text")
        # Routed here when a number is named; "the number" alone: the line for students.
        ids = reading.hotlines_named(text)[:MAX_SERVICES] or ["1388"]
        replies = [r for rid in ids for r in content.bubbles("resources_list.j2", ids=[rid])]
        send(dispatcher, replies, tracker)
        return []
