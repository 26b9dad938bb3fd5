"""What every conversation's actions share: sending content replies, who is
speaking, settings, and running blocking work off the event loop."""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from jikimi import content, reading
from jikimi.settings import Settings, load_settings


def role_of(tracker: Tracker) -> Text:
    """Who is writing: student (default), teacher or parent. The context policy
    (bot/policies/context.py) sets `user_role` from what they said, before any
    action of the turn runs, and keeps it for the conversation."""
    return tracker.get_slot("user_role") or "student"


def stance_of(tracker: Tracker) -> Optional[Text]:
    """victim, bystander or involved (for adults: their student's or child's
    position), as the context policy understood it; None before anyone said."""
    return tracker.get_slot("stance")


def repeated(tracker: Tracker, action_name: Text) -> bool:
    """Whether the previous bot turn already ran this action (no loops: a
    second identical long reply helps nobody)."""
    seen_user = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user += 1
            if seen_user == 2:
                return False
        elif seen_user == 1 and event.get("event") == "action":
            if event.get("name") == action_name:
                return True
    return False


def buttons(items: Iterable[content.Button]) -> List[Dict[Text, Any]]:
    return [{"title": b.title, "payload": b.payload} for b in items]


# A bubble at least this long is not sent again right after it was sent.
LONG_BUBBLE = 80


def send(
    dispatcher: CollectingDispatcher,
    replies: Iterable[content.Reply],
    tracker: Optional[Tracker] = None,
) -> None:
    """Sends content replies as chat messages, buttons under the last one.

    With the `tracker`, long bubbles the bot sent in its previous turn are left
    out (the same question again, or two answers sharing a paragraph, get no
    identical text twice in a row); when nothing new is left, a short word
    that it was said just now, with the reply's buttons.
    """
    replies = list(replies)
    if tracker is not None and replies:
        said = previous_bot_texts(tracker)
        fresh = [r for r in replies if len(r.text) < LONG_BUBBLE or r.text not in said]
        last_buttons = replies[-1].buttons
        if not any(len(r.text) >= LONG_BUBBLE for r in fresh):
            fresh = content.messages("already_said")
        if fresh and fresh[-1].buttons != last_buttons and last_buttons:
            fresh[-1] = content.Reply(fresh[-1].text, last_buttons)
        replies = fresh
    for reply in replies:
        dispatcher.utter_message(text=reply.text, buttons=buttons(reply.buttons))


def this_turn(tracker: Tracker) -> list:
    """The events of the bot's turn so far (after the latest user message)."""
    events = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        events.append(event)
    return events[::-1]


def previous_bot_texts(tracker: Tracker) -> set:
    """What the bot said in its previous turn (before the latest user message)."""
    return set(previous_bot_bubbles(tracker))


def previous_bot_bubbles(tracker: Tracker) -> List[Text]:
    """The same, in the order it was said."""
    texts: List[Text] = []
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users += 1
            if users == 2:
                break
        elif users == 1 and event.get("event") == "bot" and event.get("text"):
            texts.append(event["text"])
    return texts[::-1]


def service_replies(ids: Iterable[Text]) -> List[content.Reply]:
    """Each service of content/resources.yml, a bubble of its own."""
    return [r for rid in ids for r in content.bubbles("resources_list.j2", ids=[rid])]


def numbers_said_last(tracker: Tracker, before_loop: Optional[Text] = None) -> List[Text]:
    """The services named by the latest bot bubble that named any ("아까 그거
    번호" a few turns later, or in the middle of the quiz). With `before_loop`,
    only what was said before that form last started: in the quiz, "아까 그거"
    is what she was told to call, not a number the quiz's own feedback named."""
    skipping = before_loop is not None
    for event in reversed(tracker.events):
        if skipping:
            started = event.get("event") == "active_loop" and event.get("name") == before_loop
            skipping = not started
            continue
        text = event.get("text") or ""
        # Not a quiz question's choices ("① 117 ② 119 ③ 109"): that would give
        # the answer away, and it is no number the bot told her to call.
        if event.get("event") == "bot" and text and not re.search(r"퀴즈 \d+/\d+", text):
            named = reading.hotlines_named(text)
            if named:
                return named
    return []


@functools.cache
def settings() -> Settings:
    """The action server's settings, read once."""
    return load_settings()


def channel_of(tracker: Tracker) -> Text:
    """The channel the student last wrote on ("socketio", "jikimi_sms", "rest")."""
    return tracker.get_latest_input_channel() or "unknown"


def run_blocking(function, *args: Any, **kwargs: Any):
    """Runs blocking work (the database) off the action server's event loop."""
    return asyncio.to_thread(function, *args, **kwargs)
