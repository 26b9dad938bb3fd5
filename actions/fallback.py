"""When the bot is not sure what the student meant: ask back, never guess."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import send
from jikimi import content

# Not offered as a guess: they need no clarifying, or a wrong guess would hurt
# (crisis has its own detector and always gets the crisis reply).
_NOT_OFFERED = {"nlu_fallback", "greet", "goodbye", "thank", "affirm", "deny", "crisis"}


class ActionClarify(Action):
    """Low NLU confidence: offers the two most likely topics and the menu."""

    def name(self) -> Text:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        labels = content.topics()
        ranking = tracker.latest_message.get("intent_ranking") or []
        guesses = [
            item["name"]
            for item in ranking
            if item.get("name") in labels and item["name"] not in _NOT_OFFERED
        ][:2]
        buttons = [content.Button(labels[name], f"/{name}") for name in guesses]
        buttons.append(content.Button(content.label("buttons", "something_else"), "/greet"))
        reply = content.message("clarify")
        send(dispatcher, [content.Reply(reply.text, tuple(buttons))])
        return []
