"""When the conversation store fails, the student is told so: no stranger, no silence.

What Rasa 3.6 does on its own: the agent wraps the tracker store in
`FailSafeTrackerStore`, which on any error logs it and carries on with an empty
in-memory store. With PostgreSQL down, every student became a stranger
mid-conversation (a form answer got "I can't help with that", the summary
confirmation got the main menu) and what they typed was kept only in memory, to
vanish. `install()` makes that wrapper raise `StorageUnavailable` instead.

A message that could not be handled (storage down, or anything else that
escapes Rasa) reaches the channel guard (bot/channels.py) as an exception, and
`answer()` says, in place of silence:
1. the crisis reply first, when the NLU (which needs no storage) finds danger
   in the message: the same domain response the rules would give;
2. `outage` (content/messages.yml): a plain "지금 답하지 못했어요", with the
   hotlines.
Each once per message per REPEAT_AFTER_S, since the widget sends a failed
message again until it is handled (jikimi/desk/static/widget.js).
Nothing is stored: the message itself is kept by the widget (or by the desk's
SMS journal) and handled once storage is back.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Text, Tuple

from jikimi import content

logger = logging.getLogger(__name__)

REPEAT_AFTER_S = 60.0
_REMEMBERED = 10_000
# The detector's danger categories and the domain responses the rules give
# them first (bot/rules/crisis.yml).
CRISIS_RESPONSES = {
    "medical": "utter_crisis_medical",
    "threat": "utter_threat",
    "self_harm": "utter_crisis",
}


class StorageUnavailable(Exception):
    """The conversation store failed: the message was not handled."""


def _raise(error: Exception) -> None:
    raise StorageUnavailable(type(error).__name__) from error


def install(agent: Any) -> bool:
    """Makes the agent's FailSafeTrackerStore raise instead of forgetting; True when it did."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    store = getattr(agent, "tracker_store", None)
    if not isinstance(store, FailSafeTrackerStore):
        return False
    store._on_tracker_store_error = _raise
    return True


class _Told:
    """Which conversations heard what, lately (bounded; per process)."""

    def __init__(self) -> None:
        self._at: "OrderedDict[Tuple[Text, Text], float]" = OrderedDict()

    def first_in_a_while(self, sender_id: Text, what: Text) -> bool:
        now = time.monotonic()
        key = (sender_id, what)
        last = self._at.get(key)
        if last is not None and now - last < REPEAT_AFTER_S:
            return False
        self._at[key] = now
        self._at.move_to_end(key)
        while len(self._at) > _REMEMBERED:
            self._at.popitem(last=False)
        return True


_told = _Told()


async def danger_of(agent: Any, text: Optional[Text]) -> Optional[Text]:
    """The crisis detector's verdict on `text` (medical, threat, self_harm), or None."""
    if agent is None or not text:
        return None
    try:
        parsed = await agent.parse_message(text)
    except Exception:  # noqa: BLE001 - the outage message still goes out
        logger.exception("parsing a message during an outage failed")
        return None
    if (parsed.get("intent") or {}).get("name") != "crisis":
        return None
    found = {e.get("value") for e in parsed.get("entities") or [] if e.get("entity") == "danger"}
    return next((kind for kind in CRISIS_RESPONSES if kind in found), None)


def crisis_texts(agent: Any, danger: Text) -> List[Text]:
    """The text of the domain response the rules give `danger` first."""
    responses: Dict[Text, List[Dict[Text, Any]]] = getattr(
        getattr(agent, "domain", None), "responses", {}
    )
    for name in (CRISIS_RESPONSES[danger], "utter_crisis"):
        variants = [v for v in responses.get(name) or [] if isinstance(v.get("text"), str)]
        plain = [v for v in variants if not v.get("condition") and not v.get("channel")]
        chosen = (plain or variants)[:1]
        if chosen:
            return [chosen[0]["text"]]
    return []


async def answer(agent: Any, sender_id: Text, text: Optional[Text], send) -> None:
    """Tells the student that their message could not be handled (module doc);
    `send(text)` is the channel's way to say one bubble."""
    # The same message sent again (the widget retries) is not answered again.
    same = hashlib.sha256((text or "").encode()).hexdigest()[:16]
    danger = await danger_of(agent, text)
    if danger is not None and _told.first_in_a_while(sender_id, f"crisis:{same}"):
        for line in crisis_texts(agent, danger):
            await send(line)
    if _told.first_in_a_while(sender_id, f"outage:{same}"):
        await send(content.message("outage").text)
