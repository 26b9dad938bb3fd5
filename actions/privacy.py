"""Privacy: an honest, direct answer to what the person asked (parents, school,
anonymity, what a counsellor reads, what is stored), in their role's version
(content/privacy.yml)."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import previous_bot_texts, repeated, role_of, send
from jikimi import content, reading


class ActionPrivacy(Action):
    """ask_privacy: the topic asked about ("부모님이 알게 돼?" is `parents`)."""

    def name(self) -> Text:
        return "action_privacy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        topic = reading.privacy_topic(tracker.latest_message.get("text"))
        role = role_of(tracker)
        if repeated(tracker, self.name()):
            # Asked again in other words: the whole account once more helps
            # nobody. What is stored is the part not yet told after the general
            # answer; after one topic's answer ("다 저장함?" then "누가 볼수있는데"),
            # the general one (who reads what, and when).
            said = previous_bot_texts(tracker)
            if topic == "general":
                topic = "records"
            elif all(reply.text in said for reply in content.privacy(topic, role)):
                topic = "general"
        send(dispatcher, content.privacy(topic, role), tracker)
        return []
