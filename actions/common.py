"""What every conversation's actions share: sending content replies, the user's role."""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from jikimi import content
from jikimi.settings import Settings, load_settings

# How teachers and parents say who they are ("교사입니다", "저희 아이가"). Checked on
# each message; the role then stays in the `user_role` slot for the conversation.
# "상담 선생님" (a counsellor the student wants) must not make the writer a teacher.
_TEACHER = re.compile(
    r"(교사|교원|담임|교감|교장|보건\s*선생님|선생님\s*(인데|이에요|입니다|이고|이라서)"
    r"|학교에서\s*근무|(저|제가)\s*선생님)"
)
_PARENT = re.compile(
    r"(학부모|보호자(인데|입니다|예요|이에요)"
    r"|(저희|우리|제)\s*(아이|애|딸|아들|자녀|큰애|작은애)"
    r"|(엄마|아빠|어머니|아버지)\s*(인데|입니다|예요|이에요|이고))"
)


def detect_role(text: Optional[Text]) -> Optional[Text]:
    """'teacher' or 'parent' when the message says so, else None (keep the slot)."""
    if not text:
        return None
    if _TEACHER.search(text):
        return "teacher"
    if _PARENT.search(text):
        return "parent"
    return None


def current_role(tracker: Tracker) -> Text:
    """The writer's role: said in this message, else remembered, else student."""
    said = detect_role(tracker.latest_message.get("text"))
    return said or tracker.get_slot("user_role") or "student"


def buttons(items: Iterable[content.Button]) -> List[Dict[Text, Any]]:
    return [{"title": b.title, "payload": b.payload} for b in items]


def send(dispatcher: CollectingDispatcher, replies: Iterable[content.Reply]) -> None:
    """Sends content replies as chat messages, buttons under the last one."""
    for reply in replies:
        dispatcher.utter_message(text=reply.text, buttons=buttons(reply.buttons))


@functools.cache
def settings() -> Settings:
    """The action server's settings, read once."""
    return load_settings()


def channel_of(tracker: Tracker) -> Text:
    """The channel the student last wrote on ("socketio", "jikimi_sms", "rest")."""
    return tracker.get_latest_input_channel() or "unknown"


def run_blocking(function, *args: Any, **kwargs: Any):
    """Runs blocking work (the database) off the action server's event loop."""
    import asyncio

    return asyncio.to_thread(function, *args, **kwargs)
