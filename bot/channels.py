"""Input channels: Rasa's REST and socket.io channels behind one guard.

Every user message passes `clean_text` before Rasa sees it:
- NFC normalisation: Hangul pasted from macOS arrives decomposed (NFD), which
  neither Korean analyser splits; normalising inside the tokenizer would make
  entity offsets disagree with the message text, so it happens here.
- control and bidi-override characters are removed (they hide or reorder text).
A message longer than MAX_MESSAGE_CHARS gets a kind reply and goes no further:
it is not parsed, not stored in the tracker.

The classes keep Rasa's channel names, so the URLs stay /webhooks/rest/webhook
and /socket.io; credentials.yml names them by module path.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

MAX_MESSAGE_CHARS = 2000

# C0/C1 controls except tab and newline, and the bidi embedding/override/isolate
# characters. Zero-width joiners stay: emoji sequences need them.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

Handler = Callable[[UserMessage], Awaitable[Any]]


def clean_text(text: Text) -> Text:
    """The text Rasa should see: NFC, without control or bidi-override characters."""
    return _UNSAFE.sub("", unicodedata.normalize("NFC", text))


def too_long_reply() -> Text:
    from jikimi import content

    return content.message("too_long", limit=MAX_MESSAGE_CHARS).text


def guard(on_new_message: Handler) -> Handler:
    """Wraps Rasa's message handler with clean_text and the length limit."""

    async def handle(message: UserMessage) -> Any:
        if message.text is not None:
            message.text = clean_text(message.text)
            if len(message.text) > MAX_MESSAGE_CHARS:
                await message.output_channel.send_text_message(
                    message.sender_id, too_long_reply()
                )
                return None
        return await on_new_message(message)

    return handle


class JikimiRestInput(RestInput):
    """Rasa's REST channel (/webhooks/rest/webhook), guarded."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return super().blueprint(guard(on_new_message))


class JikimiSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (the web widget), guarded."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return super().blueprint(guard(on_new_message))
