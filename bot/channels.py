"""Input channels: Rasa's REST and socket.io channels behind one guard.

Every user message passes `guard` before Rasa sees it:
- anything but text (a number, a list from a broken client) gets a kind reply
  and goes no further;
- NFC normalisation: Hangul pasted from macOS arrives decomposed (NFD), which
  neither Korean analyser splits; normalising inside the tokenizer would make
  entity offsets disagree with the message text, so it happens here;
- control and bidi-override characters are removed (they hide or reorder text);
- per-sender rate limit (JIKIMI_SENDER_MESSAGES_PER_MINUTE): over it, a kind
  reply and nothing else;
- a message longer than MAX_MESSAGE_CHARS gets a kind reply and goes no further:
  it is not parsed, not stored in the tracker;
- a typed external intent ("/EXTERNAL_handoff_accepted") or one of Rasa's own
  ("/restart", "/back", "/session_start") gets the "unreadable" reply and goes
  no further: external intents come from the desk through Rasa's
  token-protected HTTP API, and no button of ours sends Rasa's (a typed
  "/restart" would silently wipe the conversation, an active handoff
  included);
- payloads are checked before Rasa parses them (`check_payload`): a button's
  "/intent" of the domain passes; entities in a payload only when they are the
  domain's, short text, and one of the values of a categorical slot of that
  name (`/add_evidence`: exactly the fields and types the widget sends, a
  capture time that is a real past moment), else they are dropped; anything
  else that starts with "/" loses its slashes and is read as words (Rasa would
  otherwise take it for an intent and quote it, whole, in a warning);
- a message Rasa fails to handle (the conversation store or anything else
  down) is answered instead of dropped: the crisis reply first when there is
  danger in it, then a plain "지금 답하지 못했어요" with the hotlines
  (bot/outage.py), and the guard reports FAILED so that the widget sends it
  again later.
The guard also marks the turn for bot/safe_failure.py (one apology per message
when the action server fails). It returns what became of the message:
HANDLED, REFUSED (told why; sending it again will not help), LIMITED (over a
rate limit; try again in a minute) or FAILED.

Per channel, at the HTTP level:
- REST: per-IP rate limit (JIKIMI_IP_REQUESTS_PER_MINUTE; 429 with a kind
  message in the REST reply format), and a body check: a JSON object with a
  non-empty string `sender` (at most 255 characters, Rasa's column) and a string
  `message`, else a clean 400. `input_channel` is always "rest": a client cannot
  pass itself off as another channel.
- socket.io: connections only from the widget's origins (JIKIMI_WIDGET_ORIGIN,
  checked when a client connects, over polling and websocket alike: browsers
  apply no CORS to websockets), a per-IP limit on new connections, and a kind
  reply to a message that is not {"message": text, ...}. The conversation is
  the server's to name (jikimi/sessions.py): `session_request` with a valid
  token joins its conversation, anything else gets a new one (at most
  CONVERSATIONS_PER_SOCKET per connection, JIKIMI_IP_CONVERSATIONS_PER_MINUTE
  per address) and `session_confirm` carries its token; a message goes to the
  conversation its socket is bound to, whatever `session_id` it claims.
  Messages are limited per connection (JIKIMI_SENDER_MESSAGES_PER_MINUTE) and
  per address (JIKIMI_IP_REQUESTS_PER_MINUTE, with REST messages and new
  connections), and each is acknowledged with what became of it
  ({"ok": bool, "retry_in": seconds}), which the widget uses to send again.
Behind a reverse proxy, set Sanic's SANIC_REAL_IP_HEADER or SANIC_PROXIES_COUNT
so the client's address, not the proxy's, is limited.

The classes keep Rasa's channel names, so the URLs stay /webhooks/rest/webhook
and /socket.io; credentials.yml names them by module path.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request

from bot import install, outage, safe_failure
from jikimi import content
from jikimi.ratelimit import RateLimiter
from jikimi.sessions import ConversationTokens
from jikimi.settings import load_settings

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 255  # Rasa's SQL tracker store: events.sender_id VARCHAR(255)
# New conversations one socket.io connection may start (a reload, a quick exit
# and a new start; a flood made one per message).
CONVERSATIONS_PER_SOCKET = 3
# How soon the widget should send a message again that was not handled.
RETRY_FAILED_S = 15
RETRY_LIMITED_S = 60

# What became of a message (the guard's return value; see the module doc).
HANDLED, REFUSED, LIMITED, FAILED = "handled", "refused", "limited", "failed"

# C0/C1 controls except tab and newline, the bidi embedding/override/isolate
# characters, and lone surrogates (valid in JSON escapes, but not text: no
# database or analyser takes them). Zero-width joiners stay: emoji need them.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# "/EXTERNAL_x", "/ EXTERNAL_x{...}", "//restart": Rasa reads a leading slash as
# an intent payload.
_FORGED_PAYLOAD = re.compile(
    r"^\s*/+\s*(?:EXTERNAL_|(?:restart|back|session_start)\b)", re.IGNORECASE
)
# "EXTERNAL: EXTERNAL_handoff_accepted": the text of a triggered intent.
_TRIGGERED_TEXT = re.compile(r"EXTERNAL:\s*EXTERNAL_[a-z_]+", re.IGNORECASE)
_SLASHES = re.compile(r"^\s*/+\s*")
_BUTTON_PAYLOAD = re.compile(r"/[a-z][a-z0-9_]{0,63}")
_ENTITY_PAYLOAD = re.compile(r"/([a-z][a-z0-9_]{0,63})(\{.*\})", re.S)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The widget's evidence panel (jikimi/desk/static/widget.js): the only payload
# that carries entities, and the types it sends. Files up to 512 MB are hashed;
# a capture time is a real moment, not in the future (a day of clock skew aside).
EVIDENCE_INTENT = "add_evidence"
MAX_EVIDENCE_BYTES = 2**40
EARLIEST_CAPTURE = datetime(1990, 1, 1, tzinfo=timezone.utc)

Handler = Callable[[UserMessage], Awaitable[Any]]


def clean_text(text: Text) -> Text:
    """The text Rasa should see: NFC, without control or bidi-override characters."""
    return _UNSAFE.sub("", unicodedata.normalize("NFC", text))


def _message(name: Text, **context: Any) -> Text:
    return content.message(name, **context).text


def too_long_reply() -> Text:
    return _message("too_long", limit=MAX_MESSAGE_CHARS)


def rate_limited_reply() -> Text:
    return _message("rate_limited")


def unreadable_reply() -> Text:
    return _message("unreadable")


@functools.cache
def _settings():
    """The Rasa process's settings, read on first use (never at import)."""
    return load_settings()


def forget_settings() -> None:
    """Settings and limits are read again on next use (tests change the environment)."""
    _settings.cache_clear()
    _limiter.cache_clear()


@functools.cache
def _limiter(kind: Text):
    settings = _settings()
    limit = {
        "sender": settings.sender_messages_per_minute,
        "ip": settings.ip_requests_per_minute,
        "conversations": settings.ip_conversations_per_minute,
        # The rate-limit reply itself: once a minute per key, so that a burst
        # (40 SMS in a row) is not answered 40 times.
        "notice": 1,
    }[kind]
    return RateLimiter(limit, window_s=60.0)


def _domain() -> Any:
    return getattr(install.LoadedAgent.current, "domain", None)


def _known_intents() -> Optional[frozenset]:
    domain = _domain()
    return frozenset(domain.intents) if domain is not None else None


# A button's entity can name several facts ("근거 보기": source_ids).
MAX_ENTITY_CHARS = 500
# Entities only our own components set: the crisis detector's verdict (a typed
# one would page a counsellor) and a counsellor's words (the desk's).
COMPONENT_ENTITIES = frozenset({"danger", "counsellor_text"})


def _domain_entities(entities: Dict[Text, Any]) -> bool:
    """True when every entity is one the domain declares, with a short text
    value, and one of the values of a categorical slot of that name."""
    domain = _domain()
    if domain is None:
        return False
    slots = {slot.name: slot for slot in domain.slots}
    for name, value in entities.items():
        if name not in domain.entities or name in COMPONENT_ENTITIES:
            return False
        if not isinstance(value, str):
            return False
        if not value.strip() or len(value) > MAX_ENTITY_CHARS:
            return False
        allowed = getattr(slots.get(name), "values", None)
        if allowed is not None and value.lower() not in [str(v).lower() for v in allowed]:
            return False
    return True


def _evidence_entities(entities: Dict[Text, Any]) -> bool:
    """True when `entities` are exactly what the evidence panel sends, each of its type."""
    if set(entities) - {"sha256", "name", "size", "captured_at"} or "sha256" not in entities:
        return False
    if not isinstance(entities["sha256"], str) or not _SHA256.fullmatch(entities["sha256"]):
        return False
    name = entities.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        return False
    size = entities.get("size")
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_EVIDENCE_BYTES
    ):
        return False
    captured = entities.get("captured_at")
    if captured is not None:
        if not isinstance(captured, str) or len(captured) > 40:
            return False
        try:
            moment = datetime.fromisoformat(captured.replace("Z", "+00:00"))
        except ValueError:
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        now = datetime.now(timezone.utc)
        if not EARLIEST_CAPTURE <= moment <= now + timedelta(days=1):
            return False
    return True


def _no_constants(name: Text) -> Any:
    raise ValueError(f"{name} is not a number")


def check_payload(text: Text) -> Optional[Text]:
    """What Rasa should read for a message starting with "/" (module doc), or
    None when it must not reach Rasa at all (a forged external or Rasa intent,
    or the very text Rasa gives one, which a counsellor would never be sent)."""
    if _FORGED_PAYLOAD.match(text) or _TRIGGERED_TEXT.fullmatch(text.strip()):
        return None
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    intents = _known_intents()

    def known(name: Text) -> bool:
        return intents is None or name in intents

    if _BUTTON_PAYLOAD.fullmatch(stripped) and known(stripped[1:]):
        return stripped
    payload = _ENTITY_PAYLOAD.fullmatch(stripped)
    if payload and known(payload.group(1)):
        intent = "/" + payload.group(1)
        try:
            entities = json.loads(payload.group(2), parse_constant=_no_constants)
        except ValueError:
            entities = None
        if not isinstance(entities, dict):
            return intent
        valid = (
            _evidence_entities(entities)
            if payload.group(1) == EVIDENCE_INTENT
            else _domain_entities(entities)
        )
        # Entities that do not check out are dropped, the intent kept (for
        # evidence the action then says it could not read it).
        return intent + json.dumps(entities, ensure_ascii=False) if valid else intent
    return _SLASHES.sub("", text)


def guard(on_new_message: Handler, answer_failures: bool = True) -> Handler:
    """Wraps Rasa's message handler with the checks above (module docstring).

    `answer_failures`: say so when Rasa fails on a message (bot/outage.py); a
    channel that reports failures to its caller instead (SMS) passes False.
    """

    async def handle(message: UserMessage) -> Text:
        turn = safe_failure.start_turn()
        try:
            key = (message.input_channel, message.sender_id)
            if not _limiter("sender").allow(("sender", *key)):
                logger.info("Rate limit: a %s sender went over its limit.", message.input_channel)
                if _limiter("notice").allow(("notice", *key)):
                    await _reply(message, rate_limited_reply())
                return LIMITED
            if message.text is not None and not isinstance(message.text, str):
                await _reply(message, unreadable_reply())
                return REFUSED
            if message.text is not None:
                text = check_payload(clean_text(message.text))
                if text is None:
                    logger.info("A typed external or Rasa intent was refused.")
                    await _reply(message, unreadable_reply())
                    return REFUSED
                message.text = text
                if len(message.text) > MAX_MESSAGE_CHARS:
                    await _reply(message, too_long_reply())
                    return REFUSED
            try:
                await on_new_message(message)
            except Exception as error:  # noqa: BLE001 - anything but silence
                logger.error(
                    "A %s message could not be handled (%s); the student is told.",
                    message.input_channel,
                    type(error).__name__,
                )
                if answer_failures:
                    await _answer_failure(message)
                return FAILED
            return HANDLED
        finally:
            safe_failure.end_turn(turn)

    return handle


async def _answer_failure(message: UserMessage) -> None:
    async def send(text: Text) -> None:
        await _reply(message, text)

    try:
        await outage.answer(install.LoadedAgent.current, message.sender_id, message.text, send)
    except Exception as error:  # noqa: BLE001 - the channel itself may be what failed
        logger.error("The failure answer could not be sent either (%s).", type(error).__name__)


async def _reply(message: UserMessage, text: Text) -> None:
    await message.output_channel.send_text_message(message.sender_id, text)


def client_ip(request: Request) -> Text:
    """The client's address: from the proxy's header when Sanic is told to trust
    one (SANIC_REAL_IP_HEADER / SANIC_PROXIES_COUNT), else the socket's peer."""
    return request.remote_addr or request.ip or "unknown"


def _bad_request(error: Text) -> response.HTTPResponse:
    return response.json({"error": error}, status=400)


def check_rest_body(request: Request) -> Optional[response.HTTPResponse]:
    """None when the REST body is usable, else the 400 answer that says why."""
    try:
        body = request.json
    except Exception:  # Sanic raises its own InvalidUsage; any failure is the client's
        return _bad_request("The body must be JSON.")
    if not isinstance(body, dict):
        return _bad_request('The body must be a JSON object: {"sender": ..., "message": ...}.')
    sender, text = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip():
        return _bad_request('"sender" must be a non-empty string.')
    if len(sender) > MAX_SENDER_CHARS:
        return _bad_request(f'"sender" must be at most {MAX_SENDER_CHARS} characters.')
    if not isinstance(text, str):
        return _bad_request('"message" must be a string.')
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return _bad_request('"metadata" must be a JSON object when given.')
    return None


def socketio_data_error(data: Any) -> Optional[Text]:
    """None when a socket.io user message is usable, else what is wrong with it."""
    if not isinstance(data, dict):
        return "not an object"
    if not isinstance(data.get("message", ""), str):
        return "message is not a string"
    session_id = data.get("session_id")
    if session_id is not None and (
        not isinstance(session_id, str) or len(session_id) > MAX_SENDER_CHARS
    ):
        return "session_id is not a short string"
    if data.get("metadata") is not None and not isinstance(data["metadata"], dict):
        return "metadata is not an object"
    return None


class JikimiRestInput(RestInput):
    """Rasa's REST channel (/webhooks/rest/webhook), guarded and limited."""

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        bp = super().blueprint(guard(on_new_message))
        install.install(bp)

        @bp.middleware("request")
        async def limit_and_check(request: Request) -> Optional[response.HTTPResponse]:
            if request.method != "POST":
                return None
            if not _limiter("ip").allow(("ip", client_ip(request))):
                logger.info("Rate limit: a REST client address went over its limit.")
                return response.json([{"text": rate_limited_reply()}], status=429)
            return check_rest_body(request)

        return bp


class JikimiSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, with custom JSON that reaches the widget.

    Rasa 3.6 passes a custom JSON message to `sio.emit()` as keyword arguments,
    which fails for any key emit() does not take (`from_counsellor`, `text`). This
    one emits it as `{"custom": {...}}` to the conversation's room, as the REST
    channel shows it; the widget shows `{"from_counsellor": true, "text": ...}`
    as a message from a person (jikimi/desk/static/widget.js).
    """

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


def _with_our_socketio_output(on_new_message: Handler) -> Handler:
    """Rasa's socket.io handler builds a stock SocketIOOutput for each message."""

    async def handle(message: UserMessage) -> Any:
        channel = message.output_channel
        if type(channel) is SocketIOOutput:
            message.output_channel = JikimiSocketIOOutput(channel.sio, channel.bot_message_evt)
        return await on_new_message(message)

    return handle


class _Conversations:
    """Which conversation each socket.io connection speaks in (jikimi/sessions.py)."""

    def __init__(self, sio: Any, namespace: Optional[Text]) -> None:
        self.sio = sio
        self.namespace = namespace
        self.tokens = ConversationTokens(_settings().secret_key)

    async def session(self, sid: Text) -> Dict[Text, Any]:
        try:
            return await self.sio.get_session(sid, namespace=self.namespace)
        except KeyError:  # disconnected meanwhile
            return {}

    async def request(self, sid: Text, data: Any) -> None:
        """`session_request`: join the conversation of a valid token, else start one."""
        session = await self.session(sid)
        address = session.get("address", "unknown")
        token = data.get("session_id") if isinstance(data, dict) else None
        conversation = self.tokens.verify(token)
        if conversation is None:
            issued = session.get("issued", 0)
            if issued >= CONVERSATIONS_PER_SOCKET or not _limiter("conversations").allow(
                ("conversations", address)
            ):
                logger.info("Rate limit: too many new widget conversations from one client.")
                await self.sio.emit(
                    "bot_uttered", {"text": rate_limited_reply()}, room=sid,
                    namespace=self.namespace,
                )  # fmt: skip
                return
            conversation = self.tokens.new(address)
            session["issued"] = issued + 1
        previous = session.get("conversation")
        if previous and previous != conversation:
            await self.sio.leave_room(sid, previous, namespace=self.namespace)
        session["conversation"] = conversation
        await self.sio.save_session(sid, session, namespace=self.namespace)
        await self.sio.enter_room(sid, conversation, namespace=self.namespace)
        await self.sio.emit(
            "session_confirm", self.tokens.token(conversation), room=sid, namespace=self.namespace
        )


class JikimiSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (the web widget), guarded and limited."""

    def get_output_channel(self) -> Optional[OutputChannel]:
        # Used by the HTTP API's output_channel (trigger_intent from the desk).
        if self.sio is None:
            return super().get_output_channel()
        return JikimiSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        handle = guard(_with_our_socketio_output(on_new_message))
        bp = super().blueprint(handle)
        install.install(bp)
        sio = self.sio
        install.share_socketio_through_redis(sio, _settings())
        origins = set(_settings().widget_origins)
        conversations = _Conversations(sio, self.namespace)
        rasa_connect = sio.handlers[self.namespace or "/"]["connect"]

        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            # Browsers send their page's Origin and apply no CORS to websockets:
            # refuse other sites' pages here. (engine.io's own origin check would
            # add a second Access-Control-Allow-Origin header beside Rasa's CORS,
            # which browsers reject; a client without an Origin is no browser.)
            origin = environ.get("HTTP_ORIGIN")
            if origin is not None and origin not in origins:
                logger.info("A socket.io connection from another origin was refused.")
                return False
            request = environ.get("sanic.request")
            address = client_ip(request) if request is not None else "unknown"
            if not _limiter("ip").allow(("ip", address)):
                logger.info("Rate limit: a socket.io client address went over its limit.")
                return False
            accepted = await rasa_connect(sid, environ, auth)
            if accepted is not False:
                await sio.save_session(sid, {"address": address}, namespace=self.namespace)
            return accepted

        async def session_request(sid: Text, data: Any) -> None:
            await conversations.request(sid, data)

        async def handle_message(sid: Text, data: Any) -> Dict[Text, Any]:
            # Rasa's handler fails on anything but {"message": str, ...}; answer
            # a broken client instead of leaving it with an exception and silence.
            if socketio_data_error(data) is not None:
                await sio.emit(self.bot_message_evt, {"text": unreadable_reply()}, room=sid)
                return {"ok": True}
            session = await conversations.session(sid)
            conversation = session.get("conversation")
            if conversation is None:
                return {"ok": False, "retry_in": 1, "reason": "no session"}
            address = session.get("address", "unknown")
            if not _limiter("sender").allow(("socket", sid)) or not _limiter("ip").allow(
                ("ip", address)
            ):
                logger.info("Rate limit: a socket.io connection or address sent too much.")
                if _limiter("notice").allow(("notice", sid)):
                    await sio.emit(self.bot_message_evt, {"text": rate_limited_reply()}, room=sid)
                return {"ok": False, "retry_in": RETRY_LIMITED_S}
            metadata = data.get(self.metadata_key) or {}
            message = UserMessage(
                data.get("message", ""),
                SocketIOOutput(sio, self.bot_message_evt),
                conversation,
                input_channel=self.name(),
                metadata=metadata,
            )
            outcome = await handle(message)
            if outcome == FAILED:
                return {"ok": False, "retry_in": RETRY_FAILED_S}
            if outcome == LIMITED:
                return {"ok": False, "retry_in": RETRY_LIMITED_S}
            return {"ok": True}

        sio.on("connect", connect, namespace=self.namespace)
        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return bp
