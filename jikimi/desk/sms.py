"""The SMS gateway of the desk service, and its background tasks.

`POST /sms/inbound` is Twilio's webhook for the service number. The
`X-Twilio-Signature` header is checked with twilio's RequestValidator against
`JIKIMI_PUBLIC_URL + /sms/inbound` (the URL Twilio calls); a bad or missing
signature gets 403 and changes nothing, and without `TWILIO_AUTH_TOKEN` every
inbound SMS is refused the same way (nobody could prove it came from Twilio).
A good one gets 200 with empty TwiML (replies go through the outbox) and:

- from a registered counsellor: `jikimi.handoff.handle_counsellor_sms`
  (commands, relay); what the student must hear goes to Rasa afterwards;
- from anyone else, a student: the number becomes an opaque sender id and the
  text goes to Rasa's SMS channel (bot/sms_channel.py). Two words are ours:
  `삭제` erases everything about the conversation (cases, handoffs, queued SMS,
  the number, and through a Restarted event the tracker) and confirms by SMS;
  `그만` ends the SMS session (any handoff, SMS still queued to the student, the
  dialogue state) and says how to come back or erase.

Rasa is called after the answer to Twilio, in the background, in arrival
order per conversation: the SMS channel for students' words, and
`trigger_intent` (`output_channel=latest`) for what the desk must tell a
conversation (EXTERNAL_handoff_*; see jikimi/handoff.py). A few retries; a
failure is logged without text, and a counsellor whose words could not be
delivered is told by SMS.

Two loops run beside the server: the outbox dispatcher (jikimi/dispatcher.py)
and the escalation sweep (`jikimi.handoff.escalate_expired`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import unicodedata
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set
from urllib.parse import parse_qs, quote

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sqlalchemy import select

from jikimi import handoff, sms
from jikimi.db import (
    SmsContact,
    delete_conversation_data,
    enqueue,
    keyring_for,
    normalise_phone,
    session_scope,
    sms_phone,
    sms_sender_id,
    utcnow,
)
from jikimi.settings import Settings

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
ERASE, STOP = "삭제", "그만"
_KEYWORD_NOISE = re.compile(r"[\s.!~?ㅠㅜ]+")
RASA_TRIES = 4
RASA_RETRY_S = 1.0
_RECENT_SIDS = 2000


@dataclass
class Route:
    """What an inbound SMS turned out to be, and what is left to do after the reply."""

    kind: str  # counsellor, student, erased, stopped, ignored
    sender_id: Optional[str] = None
    text: Optional[str] = None
    notices: List[handoff.Notice] = field(default_factory=list)


def keyword(text: str) -> Optional[str]:
    """`삭제` or `그만` when that is the whole message (spaces and ".!~ㅠ" aside)."""
    bare = _KEYWORD_NOISE.sub("", unicodedata.normalize("NFKC", text or ""))
    return bare if bare in (ERASE, STOP) else None


# --- blocking work (run in threads) -----------------------------------------------


def _sender_id(session, phone: str) -> Optional[str]:
    """The conversation id of a number that has written before, else None."""
    digest = keyring_for(session).digest(normalise_phone(phone))
    return session.execute(
        select(SmsContact.sender_id).where(SmsContact.phone_hash == digest)
    ).scalar_one_or_none()


def erase_sms_student(settings: Settings, phone: str) -> Optional[str]:
    """`삭제`: ends the handoff (its counsellor is told), erases the conversation's
    rows and number, and queues the confirmation; returns the erased sender id."""
    number = normalise_phone(phone)
    with session_scope(settings) as session:
        now = utcnow()
        sender_id = _sender_id(session, number)
        if sender_id is not None:
            handoff.end_active_handoff(session, sender_id, now)
            delete_conversation_data(session, sender_id)
        # Not tied to the conversation: it is gone, and the text names nothing.
        enqueue(session, number, sms.text("erased"), now)
    return sender_id


def erase_failed(settings: Settings, phone: str) -> None:
    with session_scope(settings) as session:
        enqueue(session, phone, sms.text("erase_failed"), utcnow())


def stop_sms_session(settings: Settings, phone: str) -> Optional[str]:
    """`그만`: ends the handoff, drops SMS still queued to the student, and
    queues the goodbye; returns the sender id (None for a first-time number)."""
    number = normalise_phone(phone)
    with session_scope(settings) as session:
        now = utcnow()
        sender_id = _sender_id(session, number)
        if sender_id is not None:
            handoff.end_active_handoff(session, sender_id, now)
            handoff.cancel_queued_to(session, sender_id, number)
        enqueue(session, number, sms.text("session_ended"), now, sender_id=sender_id)
    return sender_id


def student_sender(settings: Settings, phone: str, media: bool) -> str:
    """The opaque id of this number's conversation (made on its first SMS)."""
    with session_scope(settings) as session:
        now = utcnow()
        sender_id = sms_sender_id(session, phone, now)
        if media:
            enqueue(session, phone, sms.text("no_media"), now, sender_id=sender_id)
        return sender_id


def rasa_unavailable(settings: Settings, sender_id: str) -> None:
    """Rasa did not take a student's SMS: tell them, with the numbers to call."""
    with session_scope(settings) as session:
        phone = sms_phone(session, sender_id)
        if phone is not None:
            enqueue(session, phone, sms.text("unavailable"), utcnow(), sender_id=sender_id)


def route_inbound(settings: Settings, phone: str, body: str, media: bool) -> Route:
    """Acts on an inbound SMS in the database; what is left for Rasa is returned."""
    text = unicodedata.normalize("NFC", body or "").strip()
    notices = handoff.handle_counsellor_sms(settings, phone, text)
    if notices is not None:
        return Route("counsellor", notices=notices)
    try:
        normalise_phone(phone)
    except ValueError:
        # A short code or an alphanumeric sender: nobody we can answer.
        logger.warning("An inbound SMS from a number we cannot reply to was ignored.")
        return Route("ignored")
    word = keyword(text)
    if word == ERASE:
        try:
            return Route("erased", erase_sms_student(settings, phone))
        except Exception:  # noqa: BLE001 - say so, and let them try again
            logger.exception("erasing an SMS conversation failed")
            erase_failed(settings, phone)
            return Route("ignored")
    if word == STOP:
        return Route("stopped", stop_sms_session(settings, phone))
    sender_id = student_sender(settings, phone, media)
    return Route("student", sender_id, text or None)


# --- the desk's async side ------------------------------------------------------


class SmsDesk:
    """State of the gateway in one desk process, made when the server starts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._executor: Optional[ThreadPoolExecutor] = None
        self._http: Any = None
        self._stop: Optional[asyncio.Event] = None
        self._tasks: Set[asyncio.Task] = set()
        self._loops: List[asyncio.Task] = []
        self._order: Dict[str, list] = {}
        self._recent: "OrderedDict[str, None]" = OrderedDict()

    # --- lifecycle ---------------------------------------------------------------

    async def start(self, app: Sanic, _loop: Any) -> None:
        import aiohttp

        from jikimi.dispatcher import Dispatcher, run_forever

        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jikimi-desk")
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self._stop = asyncio.Event()
        transport = await self.blocking(sms.transport_for, self.settings)
        if transport.name == "local":
            logger.warning(
                "Twilio credentials are not all set: SMS are recorded in %s and printed, "
                "NOT sent.",
                sms.local_record_path(self.settings),
            )
        if not self.settings.twilio_auth_token:
            logger.warning("TWILIO_AUTH_TOKEN is not set: every inbound SMS is refused (403).")
        dispatcher = Dispatcher(self.settings, transport)
        self._loops = [
            asyncio.create_task(run_forever(dispatcher, self._stop, self._executor)),
            asyncio.create_task(self._sweep_forever()),
        ]

    async def stop(self, app: Sanic, _loop: Any) -> None:
        if self._stop is not None:
            self._stop.set()
        pending = list(self._tasks) + self._loops
        if pending:
            _, late = await asyncio.wait(pending, timeout=10)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def blocking(self, function: Callable, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    def spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextlib.asynccontextmanager
    async def in_order(self, sender_id: str):
        """Work for one conversation runs one at a time, in the order it arrived."""
        entry = self._order.setdefault(sender_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._order.pop(sender_id, None)

    # --- inbound -------------------------------------------------------------------

    def signed(self, form: "_Form", signature: str) -> bool:
        from twilio.request_validator import RequestValidator

        token = self.settings.twilio_auth_token
        if not token or not signature:
            return False
        url = self.settings.public_url + "/sms/inbound"
        return RequestValidator(token).validate(url, form, signature)

    def _seen(self, message_sid: Optional[str]) -> bool:
        """Twilio may deliver a webhook twice; the second is answered and ignored."""
        if not message_sid:
            return False
        if message_sid in self._recent:
            return True
        self._recent[message_sid] = None
        while len(self._recent) > _RECENT_SIDS:
            self._recent.popitem(last=False)
        return False

    async def inbound(self, request: Request) -> response.HTTPResponse:
        form = _Form.parse(request)
        if form is None or not self.signed(form, request.headers.get("X-Twilio-Signature", "")):
            logger.warning("An inbound SMS request without a valid Twilio signature was refused.")
            return response.text("Forbidden", status=403)
        if self._seen(form.first("MessageSid")):
            return _twiml()
        try:
            media = int(form.first("NumMedia") or 0) > 0
        except ValueError:
            media = False
        route = await self.blocking(
            route_inbound, self.settings, form.first("From"), form.first("Body"), media
        )
        logger.info("Inbound SMS: %s", route.kind)
        if route.kind == "counsellor":
            for notice in route.notices:
                self.spawn(self._tell(notice))
        elif route.kind == "student" and route.text:
            self.spawn(self._to_rasa(route.sender_id, route.text))
        elif route.kind == "erased" and route.sender_id:
            self.spawn(self._reset(route.sender_id, [{"event": "restart"}]))
        elif route.kind == "stopped" and route.sender_id:
            self.spawn(
                self._reset(
                    route.sender_id,
                    [{"event": "session_started"}, {"event": "action", "name": "action_listen"}],
                )
            )
        return _twiml()

    # --- Rasa ----------------------------------------------------------------------

    async def _post(self, url: str, *, what: str, **kwargs: Any) -> bool:
        """POSTs to Rasa; True on 2xx. Retried only when Rasa surely did not act
        on it (no connection, or a proxy saying Rasa is unavailable): a turn that
        failed halfway is not run again, so the student never hears a line twice."""
        import aiohttp

        for attempt in range(1, RASA_TRIES + 1):
            try:
                async with self._http.post(url, **kwargs) as answer:
                    if 200 <= answer.status < 300:
                        return True
                    logger.error("Rasa answered %s to %s", answer.status, what)
                    if answer.status not in (502, 503, 504):
                        return False
            except aiohttp.ClientConnectorError:
                logger.warning("Rasa unreachable for %s (attempt %s)", what, attempt)
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.error("Rasa failed on %s: %s", what, type(error).__name__)
                return False
            if attempt < RASA_TRIES:
                await asyncio.sleep(RASA_RETRY_S * attempt)
        return False

    async def _to_rasa(self, sender_id: str, text: str) -> None:
        async with self.in_order(sender_id):
            delivered = await self._post(
                f"{self.settings.rasa_url}/webhooks/jikimi_sms/webhook",
                what="a student's SMS",
                json={"sender": sender_id, "message": text},
                headers={"Authorization": f"Bearer {self.settings.rasa_token}"},
            )
        if not delivered:
            await self.blocking(rasa_unavailable, self.settings, sender_id)

    async def trigger(self, notice: handoff.Notice) -> bool:
        url = (
            f"{self.settings.rasa_url}/conversations/"
            f"{quote(notice.sender_id, safe='')}/trigger_intent"
        )
        return await self._post(
            url,
            what=notice.intent,
            params={"output_channel": "latest", "token": self.settings.rasa_token},
            json={"name": notice.intent, "entities": notice.entities},
        )

    async def _tell(self, notice: handoff.Notice) -> None:
        async with self.in_order(notice.sender_id):
            told = await self.trigger(notice)
        if not told and notice.intent == handoff.COUNSELLOR_MESSAGE and notice.code:
            await self.blocking(handoff.relay_failed, self.settings, notice.code)

    async def _reset(self, sender_id: str, events: List[Dict[str, str]]) -> None:
        async with self.in_order(sender_id):
            await self._post(
                f"{self.settings.rasa_url}/conversations/{quote(sender_id, safe='')}"
                "/tracker/events",
                what="ending an SMS conversation",
                params={"token": self.settings.rasa_token},
                json=events,
            )

    # --- escalation --------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        interval = min(5.0, max(0.5, self.settings.handoff_timeout_s / 4))
        while not self._stop.is_set():
            try:
                for notice in await self.blocking(handoff.escalate_expired, self.settings):
                    self.spawn(self._tell(notice))
            except Exception:  # noqa: BLE001 - try again on the next tick
                logger.exception("the escalation sweep failed")
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass


class _Form(dict):
    """Twilio's form fields, blank ones kept: an SMS with only a picture has an
    empty Body, which the signature covers (Sanic's `request.form` drops it)."""

    @classmethod
    def parse(cls, request: Request) -> Optional["_Form"]:
        if not (request.content_type or "").startswith("application/x-www-form-urlencoded"):
            return None
        try:
            text = (request.body or b"").decode("utf-8")
        except UnicodeDecodeError:
            return None
        return cls(parse_qs(text, keep_blank_values=True))

    def getlist(self, name: str) -> List[str]:  # what RequestValidator reads
        return self[name]

    def first(self, name: str) -> str:
        values = self.get(name) or [""]
        return values[0]


def _twiml() -> response.HTTPResponse:
    return response.text(EMPTY_TWIML, content_type="text/xml; charset=utf-8")


def sms_blueprint(settings: Settings) -> Blueprint:
    """`POST /sms/inbound`, the outbox dispatcher and the escalation sweep."""
    desk = SmsDesk(settings)
    bp = Blueprint("jikimi_sms")

    @bp.post("/sms/inbound")
    async def inbound(request: Request) -> response.HTTPResponse:
        return await desk.inbound(request)

    @bp.listener("after_server_start")
    async def start(app: Sanic, loop: Any) -> None:
        await desk.start(app, loop)

    @bp.listener("before_server_stop")
    async def stop(app: Sanic, loop: Any) -> None:
        await desk.stop(app, loop)

    return bp
