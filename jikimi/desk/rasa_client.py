"""The desk's HTTP client for the Rasa server.

What the desk sends Rasa: a student's SMS to Rasa's SMS channel
(bot/sms_channel.py), what a conversation must be told through
`trigger_intent` (`output_channel=latest`: EXTERNAL_handoff_*, see
jikimi/handoff.py), events that end an SMS conversation, and a quick
`/model/parse` to find danger in an SMS the desk could not act on.

A POST is retried a few times only when Rasa surely did not act on it (no
connection, or 502, 503, 504): a turn that failed halfway is not run again,
so the student never hears a line twice. Failures are logged without text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from jikimi import handoff
from jikimi.settings import Settings

logger = logging.getLogger(__name__)

RASA_TRIES = 4
RASA_RETRY_S = 1.0
PARSE_TIMEOUT_S = 3.0
# What became of a POST to Rasa (RasaClient.outcome).
DELIVERED, UNAVAILABLE, REFUSED = "delivered", "unavailable", "refused"


class RasaClient:
    """Calls to the Rasa server (`settings.rasa_url`) over one aiohttp session."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self._http = http

    async def danger(self, body: str) -> Optional[str]:
        """The crisis detector's verdict on `body` through Rasa's /model/parse, if
        Rasa answers quickly (medical, threat, self_harm), else None."""
        if not body:
            return None
        try:
            async with self._http.post(
                f"{self.settings.rasa_url}/model/parse",
                params={"token": self.settings.rasa_token},
                json={"text": body},
                timeout=aiohttp.ClientTimeout(total=PARSE_TIMEOUT_S),
            ) as answer:
                if answer.status != 200:
                    return None
                parsed = await answer.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return None
        if (parsed.get("intent") or {}).get("name") != "crisis":
            return None
        found = {
            e.get("value") for e in parsed.get("entities") or [] if e.get("entity") == "danger"
        }
        return next((kind for kind in ("medical", "threat", "self_harm") if kind in found), None)

    async def post(self, url: str, *, what: str, **kwargs: Any) -> bool:
        """POSTs to Rasa; True on 2xx (see `outcome`)."""
        return await self.outcome(url, what=what, **kwargs) == DELIVERED

    async def outcome(self, url: str, *, what: str, **kwargs: Any) -> str:
        """POSTs to Rasa: DELIVERED (2xx), UNAVAILABLE (no connection, or 502,
        503, 504 each time: Rasa surely did not act on it, and it may be tried
        again later) or REFUSED. Retried a few times only when Rasa surely did
        not act on it: a turn that failed halfway is not run again, so the
        student never hears a line twice."""
        for attempt in range(1, RASA_TRIES + 1):
            try:
                async with self._http.post(url, **kwargs) as answer:
                    if 200 <= answer.status < 300:
                        return DELIVERED
                    logger.error("Rasa answered %s to %s", answer.status, what)
                    if answer.status not in (502, 503, 504):
                        return REFUSED
            except aiohttp.ClientConnectorError:
                logger.warning("Rasa unreachable for %s (attempt %s)", what, attempt)
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.error("Rasa failed on %s: %s", what, type(error).__name__)
                return REFUSED
            if attempt < RASA_TRIES:
                await asyncio.sleep(RASA_RETRY_S * attempt)
        return UNAVAILABLE

    async def student_message(self, sender_id: str, text: str) -> str:
        """A student's SMS to Rasa's SMS channel; DELIVERED, UNAVAILABLE or REFUSED."""
        return await self.outcome(
            f"{self.settings.rasa_url}/webhooks/jikimi_sms/webhook",
            what="a student's SMS",
            json={"sender": sender_id, "message": text},
            headers={"Authorization": f"Bearer {self.settings.rasa_token}"},
        )

    async def trigger(self, notice: handoff.Notice) -> bool:
        """Tells a conversation what happened (an EXTERNAL_* intent); True when Rasa took it."""
        url = (
            f"{self.settings.rasa_url}/conversations/"
            f"{quote(notice.sender_id, safe='')}/trigger_intent"
        )
        return await self.post(
            url,
            what=notice.intent,
            params={"output_channel": "latest", "token": self.settings.rasa_token},
            json={"name": notice.intent, "entities": notice.entities},
        )

    async def append_events(self, sender_id: str, events: List[Dict[str, str]]) -> bool:
        """Appends events to a conversation (ending an SMS conversation)."""
        return await self.post(
            f"{self.settings.rasa_url}/conversations/{quote(sender_id, safe='')}/tracker/events",
            what="ending an SMS conversation",
            params={"token": self.settings.rasa_token},
            json=events,
        )
