"""A question about one of the numbers the bot gives ("1388은 문자도 돼요?",
"디지털 성범죄 피해 상담 번호 뭐예요?"): that service as content/resources.yml
describes it (channels, hours, what it does and does not do), each in its own
bubble; "거기 밤에도 받아요?" right after: its hours."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import numbers_said_last, previous_bot_bubbles, send, service_replies
from jikimi import content, reading

MAX_SERVICES = 2  # one or two numbers asked about; more is a list, not an answer


class ActionHotline(Action):
    """The services named or asked for in the message, from content/resources.yml."""

    def name(self) -> Text:
        return "action_hotline"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        text = tracker.latest_message.get("text")
        ids = reading.hotlines_asked(text)[:MAX_SERVICES]
        if not ids and tracker.get_slot("hotline") and reading.asks_hours(text):
            # "거기 주말에도 받아요?": the service just described, its hours.
            service = content.resources([tracker.get_slot("hotline")])[0]
            send(dispatcher, content.messages("hotline_hours", service=service))
            return []
        if not ids and reading.asks_number_again(text):
            # "몇 번이라고요": the numbers the last reply gave, first two.
            said = " ".join(previous_bot_bubbles(tracker))
            ids = (reading.hotlines_named(said) or numbers_said_last(tracker))[:MAX_SERVICES]
        ids = ids or ["1388"]  # "the number" without saying which: the line for students
        send(dispatcher, service_replies(ids), tracker)
        return [SlotSet("hotline", ids[-1])]
