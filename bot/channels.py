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
  ("/restart", "/back", "/session_start") loses its slash and is read as words:
  external intents come from the desk through Rasa's token-protected HTTP API,
  and no button of ours sends Rasa's (a typed "/restart" would silently wipe
  the conversation, an active handoff included).
The guard also marks the turn for bot/safe_failure.py (one apology per message
when the action server fails).

Per channel, at the HTTP level:
- REST: per-IP rate limit (JIKIMI_IP_REQUESTS_PER_MINUTE; 429 with a kind
  message in the REST reply format), and a body check: a JSON object with a
  non-empty string `sender` (at most 255 characters, Rasa's column) and a string
  `message`, else a clean 400. `input_channel` is always "rest": a client cannot
  pass itself off as another channel.
- socket.io: connections only from the widget's origins (JIKIMI_WIDGET_ORIGIN,
  checked when a client connects, over polling and websocket alike: browsers
  apply no CORS to websockets), a per-IP limit on new connections, and a kind
  reply to a message that is not {"message": text, ...}.
Behind a reverse proxy, set Sanic's SANIC_REAL_IP_HEADER or SANIC_PROXIES_COUNT
so the client's address, not the proxy's, is limited.

The classes keep Rasa's channel names, so the URLs stay /webhooks/rest/webhook
and /socket.io; credentials.yml names them by module path.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request

from bot import safe_failure

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 255  # Rasa's SQL tracker store: events.sender_id VARCHAR(255)

# C0/C1 controls except tab and newline, the bidi embedding/override/isolate
# characters, and lone surrogates (valid in JSON escapes, but not text: no
# database or analyser takes them). Zero-width joiners stay: emoji need them.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# "/EXTERNAL_x", "/ EXTERNAL_x{...}", "//restart": Rasa reads a leading slash as
# an intent payload.
_FORGED_PAYLOAD = re.compile(
    r"^\s*/+\s*(?=EXTERNAL_|(?:restart|back|session_start)\b)", re.IGNORECASE
)

Handler = Callable[[UserMessage], Awaitable[Any]]


def clean_text(text: Text) -> Text:
    """The text Rasa should see: NFC, without control or bidi-override characters."""
    return _UNSAFE.sub("", unicodedata.normalize("NFC", text))


def _message(name: Text, **context: Any) -> Text:
    from jikimi import content

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
    from jikimi.settings import load_settings

    return load_settings()


@functools.cache
def _limiter(kind: Text):
    from jikimi.ratelimit import RateLimiter

    settings = _settings()
    limit = {
        "sender": settings.sender_messages_per_minute,
        "ip": settings.ip_requests_per_minute,
    }[kind]
    return RateLimiter(limit, window_s=60.0)


def guard(on_new_message: Handler) -> Handler:
    """Wraps Rasa's message handler with the checks above (module docstring)."""

    async def handle(message: UserMessage) -> Any:
        turn = safe_failure.start_turn()
        try:
            if not _limiter("sender").allow(("sender", message.input_channel, message.sender_id)):
                logger.info("Rate limit: a %s sender went over its limit.", message.input_channel)
                await _reply(message, rate_limited_reply())
                return None
            if message.text is not None and not isinstance(message.text, str):
                await _reply(message, unreadable_reply())
                return None
            if message.text is not None:
                message.text = _FORGED_PAYLOAD.sub("", clean_text(message.text))
                if len(message.text) > MAX_MESSAGE_CHARS:
                    await _reply(message, too_long_reply())
                    return None
            return await on_new_message(message)
        finally:
            safe_failure.end_turn(turn)

    return handle


async def _reply(message: UserMessage, text: Text) -> None:
    await message.output_channel.send_text_message(message.sender_id, text)


def client_ip(request: Request) -> Text:
    """The client's address: from the proxy's header when Sanic is told to trust
    one (SANIC_REAL_IP_HEADER / SANIC_PROXIES_COUNT), else the socket's peer."""
    return request.remote_addr or request.ip or "unknown"


def _install_safe_failure(blueprint: Blueprint) -> None:
    """Registers bot/safe_failure.py to run once Rasa has loaded the agent."""

    @blueprint.listener("after_server_start")
    async def install(app: Sanic, _loop: Any) -> None:
        agent = getattr(app.ctx, "agent", None)
        if safe_failure.install(agent, _settings().action_timeout_s):
            logger.info(
                "Action server calls time out after %ss and fail safe.",
                _settings().action_timeout_s,
            )

    @blueprint.listener("before_server_stop")
    async def close(app: Sanic, _loop: Any) -> None:
        endpoint = getattr(getattr(app.ctx, "agent", None), "action_endpoint", None)
        if isinstance(endpoint, safe_failure.SafeActionEndpoint):
            await endpoint.close()


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
        _install_safe_failure(bp)

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


def _share_through_redis(sio: Any) -> None:
    """With JIKIMI_SOCKETIO_REDIS_URL, emits go through Redis pub/sub
    (python-socketio's AsyncRedisManager), so a reply made on one Rasa instance
    (a counsellor's words via trigger_intent) reaches a widget connected to
    another. Rasa makes the AsyncServer itself without a client manager; ours
    takes the place of the default one before any client has connected (the
    server initialises its manager on the first connection)."""
    settings = _settings()
    if not settings.socketio_redis_url:
        return
    from socketio import AsyncRedisManager

    manager = AsyncRedisManager(settings.socketio_redis_url, channel=settings.socketio_channel)
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False
    logger.info("socket.io messages are shared through Redis (several Rasa instances).")


def _join_session_rooms(sio: Any, namespace: Optional[Text], persistence: bool) -> None:
    """Rasa 3.6's session_request handler calls `sio.enter_room()` without await;
    in python-socketio 5.10+ that is a coroutine, so the socket never joins the
    session's room and every reply (sent to the room) is lost. This handler awaits
    it, and takes only a sane session id (a string of at most MAX_SENDER_CHARS)."""

    async def session_request(sid: Text, data: Any) -> None:
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not isinstance(session_id, str) or not 0 < len(session_id) <= MAX_SENDER_CHARS:
            session_id = uuid.uuid4().hex
        if persistence:
            await sio.enter_room(sid, session_id, namespace=namespace)
        await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

    sio.on("session_request", session_request, namespace=namespace)


class JikimiSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (the web widget), guarded and limited."""

    def get_output_channel(self) -> Optional[OutputChannel]:
        # Used by the HTTP API's output_channel (trigger_intent from the desk).
        if self.sio is None:
            return super().get_output_channel()
        return JikimiSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        bp = super().blueprint(guard(_with_our_socketio_output(on_new_message)))
        _join_session_rooms(self.sio, self.namespace, self.session_persistence)
        _install_safe_failure(bp)
        sio = self.sio
        _share_through_redis(sio)
        origins = set(_settings().widget_origins)
        namespace = self.namespace or "/"
        rasa_connect = sio.handlers[namespace]["connect"]

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
            return await rasa_connect(sid, environ, auth)

        sio.on("connect", connect, namespace=self.namespace)

        rasa_handle = sio.handlers[namespace][self.user_message_evt]

        async def handle_message(sid: Text, data: Any) -> None:
            # Rasa's handler fails on anything but {"message": str, ...}; answer
            # a broken client instead of leaving it with an exception and silence.
            if socketio_data_error(data) is not None:
                await sio.emit(self.bot_message_evt, {"text": unreadable_reply()}, room=sid)
                return
            await rasa_handle(sid, data)

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return bp
