"""The SMS channel of the Rasa server, fed by the desk service (jikimi/desk/sms.py).

Twilio calls the desk, never Rasa: the desk checks Twilio's signature, turns
the phone number into an opaque sender id (`sms-...`, jikimi.db.sms_sender_id)
and posts `{"sender": <id>, "message": <text>}` here with the Rasa token
(`Authorization: Bearer RASA_TOKEN`). The tracker only ever sees the opaque id.

Replies are not sent from here: each is queued in the SMS outbox (in a thread:
the database blocks) to the number behind the id, and the desk's dispatcher
sends it with retries. The output channel renders for a phone:
- buttons become numbered choices ("1. ...") and a bare "1" (or "1번") from the
  student next time selects the first button's payload: the choices are read
  back from the tracker's last bot turn, so nothing is kept in this process;
- long replies are split at paragraph, line or sentence breaks (jikimi.sms.split_sms);
- a counsellor's words (custom JSON `{"from_counsellor": true, "text": ...}`)
  become "상담 선생님: ...";
- the first reply of a conversation (a new number, or after "삭제") starts by
  saying that Jikimi is a bot (content/sms.yml `intro`), as the widget's
  greeting does, unless that reply says so itself.
The same guard as the other channels (bot/channels.py) applies.

`trigger_intent` with `output_channel=latest` reaches SMS students through
`get_output_channel()`, which looks the number up when it sends.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import unicodedata
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import install
from bot.channels import FAILED, MAX_SENDER_CHARS, Handler, guard
from jikimi.db import enqueue, session_scope, sms_phone, utcnow
from jikimi.settings import load_settings
from jikimi.sms import split_sms
from jikimi.sms import text as sms_text

logger = logging.getLogger(__name__)

CHANNEL_NAME = "jikimi_sms"
_CHOICE = re.compile(r"\s*([0-9]{1,2})\s*(번)?\s*[.)]?\s*")


@functools.cache
def _settings():
    """The Rasa process's settings, read on first use (never at import)."""
    return load_settings()


def queue_sms(settings, sender_id: Text, parts: List[Text], phone: Optional[Text]) -> int:
    """Queues `parts` to the phone of `sender_id` (or `phone`, looked up when the
    message arrived); 0 when the conversation has no number (erased)."""
    with session_scope(settings) as session:
        number = phone or sms_phone(session, sender_id)
        if number is None:
            return 0
        now = utcnow()
        for part in parts:
            enqueue(session, number, part, now, sender_id=sender_id)
        return len(parts)


def _phone_of(settings, sender_id: Text) -> Optional[Text]:
    with session_scope(settings) as session:
        return sms_phone(session, sender_id)


class JikimiSmsOutput(OutputChannel):
    """Queues replies in the SMS outbox. Buttons are numbered across one turn, in
    the order they are sent, as `choice_payload` counts them back."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self, settings=None, phone: Optional[Text] = None, intro: bool = False) -> None:
        self._settings = settings
        self._phone = phone
        self._numbered = 0
        self._intro = intro

    @property
    def settings(self):
        return self._settings or _settings()

    async def _queue(self, recipient_id: Text, text: Text) -> None:
        if self._intro:
            self._intro = False
            if text and "챗봇" not in text:
                text = sms_text("intro") + "\n\n" + text
        parts = split_sms(text or "")
        if not parts:
            return
        queued = await asyncio.to_thread(queue_sms, self.settings, recipient_id, parts, self._phone)
        if not queued:
            logger.info("An SMS reply was dropped: its conversation has no phone number.")

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._queue(recipient_id, text)

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        **kwargs: Any,
    ) -> None:
        lines = [text.strip()] if text and text.strip() else []
        for button in buttons:
            self._numbered += 1
            lines.append(f"{self._numbered}. {button.get('title', '')}")
        if buttons:
            lines.append(sms_text("choices_hint"))
        await self._queue(recipient_id, "\n".join(lines))

    async def send_quick_replies(
        self,
        recipient_id: Text,
        text: Text,
        quick_replies: List[Dict[Text, Any]],
        **kwargs: Any,
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        data = json_message.get("data", json_message) if isinstance(json_message, dict) else {}
        said = data.get("text") if isinstance(data, dict) else None
        if not isinstance(said, str) or not said.strip():
            return  # widget-only payloads (panels, links) have no SMS form
        if data.get("from_counsellor"):
            said = sms_text("from_counsellor", text=said.strip())
        await self._queue(recipient_id, said)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        logger.debug("An image reply has no SMS form; skipped.")

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        logger.debug("An attachment reply has no SMS form; skipped.")


def _buttons_of_last_turn(events: Iterable[Any]) -> List[Dict[Text, Any]]:
    """Buttons the bot sent since the student's last message, in order."""
    from rasa.shared.core.events import BotUttered, UserUttered

    found: List[Dict[Text, Any]] = []
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            data = event.data or {}
            buttons = data.get("buttons") or data.get("quick_replies") or []
            found[:0] = list(buttons)
    return found


def choice_payload(text: Text, events: Iterable[Any]) -> Optional[Text]:
    """The payload a numbered reply ("1", "2번") selects, or None."""
    match = _CHOICE.fullmatch(unicodedata.normalize("NFKC", text or ""))
    if not match:
        return None
    buttons = _buttons_of_last_turn(events)
    index = int(match.group(1)) - 1
    if not 0 <= index < len(buttons):
        return None
    payload = buttons[index].get("payload")
    return payload if isinstance(payload, str) and payload else None


class JikimiSmsInput(InputChannel):
    """POST /webhooks/jikimi_sms/webhook, for the desk service only (Rasa token)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def get_output_channel(self) -> Optional[OutputChannel]:
        return JikimiSmsOutput()

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        expected = _settings().rasa_token
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), expected.encode()
        )

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        # A message Rasa cannot handle (the conversation store down) is not
        # answered here (the answer would go through the outbox, in the same
        # database): 503 tells the desk, which keeps it and tries again.
        handle = guard(on_new_message, answer_failures=False)
        bp = Blueprint("jikimi_sms_webhook", __name__)
        install.install(bp)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"error": "unauthorised"}, status=401)
            try:
                body = request.json
            except Exception:  # noqa: BLE001 - Sanic's own error for a bad body
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "expected a JSON object"}, status=400)
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender or len(sender) > MAX_SENDER_CHARS:
                return response.json({"error": '"sender" must be a short string'}, status=400)
            if not isinstance(text, str):
                return response.json({"error": '"message" must be a string'}, status=400)
            settings = _settings()
            try:
                phone = await asyncio.to_thread(_phone_of, settings, sender)
            except Exception as error:  # noqa: BLE001 - the database: the desk keeps it
                logger.error("An SMS sender could not be looked up (%s).", type(error).__name__)
                return response.json({"error": "unavailable"}, status=503)
            if phone is None:
                return response.json({"error": "unknown sender"}, status=404)
            agent = getattr(request.app.ctx, "agent", None)
            first = True
            try:
                if agent is not None:
                    tracker = await agent.tracker_store.retrieve(sender)
                    if tracker is not None:
                        text = choice_payload(text, tracker.events) or text
                        first = not any(e.type_name == "bot" for e in tracker.events)
            except Exception as error:  # noqa: BLE001 - the desk keeps the message
                logger.error("The SMS conversation could not be read (%s).", type(error).__name__)
                return response.json({"error": "unavailable"}, status=503)
            output = JikimiSmsOutput(settings, phone=phone, intro=first)
            outcome = await handle(UserMessage(text, output, sender, input_channel=self.name()))
            if outcome == FAILED:
                return response.json({"error": "unavailable"}, status=503)
            return response.json({"status": "ok"})

        return bp
