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
order per conversation, through jikimi/desk/rasa_client.py: the SMS channel
for students' words, and `trigger_intent` (`output_channel=latest`) for what
the desk must tell a conversation (EXTERNAL_handoff_*; see jikimi/handoff.py).
A few retries; a failure is logged without text, and a counsellor whose words
could not be delivered is told by SMS.

Nothing accepted is lost when the database or Rasa is down (issue 15). Twilio
does not call a webhook again when it fails, so:
- an SMS that cannot be acted on because the database is down is written to
  the journal (jikimi/desk/journal.py: on disk, encrypted) before the webhook
  answers, and the answer itself (TwiML, which needs no database) tells the
  sender plainly, with the crisis reply first when Rasa's NLU finds danger in
  it, and the hotlines;
- a student's words Rasa cannot take (Rasa down, or its conversation store)
  are journaled too, and the student is told by SMS when the database can
  queue one;
- the journal is replayed, oldest first, once both answer again; while it
  holds anything, new SMS queue behind it, so a conversation keeps its order.
Each inbound SMS is acted on once: its MessageSid is recorded in the database
(`inbound_sms`) as it is acted on, so a webhook Twilio delivers twice, to any
desk process, or a replay, does nothing the second time. A student number that
sends more than JIKIMI_SMS_PER_NUMBER_PER_MINUTE SMS in a minute is told once to
slow down and the rest of the burst is not answered.

Two loops run beside the server: the outbox dispatcher (jikimi/dispatcher.py)
and the upkeep loop (the journal replay, the escalation sweep
`jikimi.handoff.escalate_expired`, and closing inactive cases).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import aiohttp
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from jikimi import handoff, sms
from jikimi.db import (
    InboundSms,
    SmsContact,
    cancel_queued_to,
    delete_conversation_data,
    enqueue,
    keyring_for,
    normalise_phone,
    session_scope,
    sms_phone,
    sms_sender_id,
    utcnow,
)
from jikimi.desk.journal import Journal
from jikimi.desk.rasa_client import DELIVERED, REFUSED, UNAVAILABLE, RasaClient
from jikimi.dispatcher import Dispatcher, run_forever
from jikimi.ratelimit import RateLimiter
from jikimi.retention import close_inactive_cases
from jikimi.settings import Settings

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
ERASE, STOP = "삭제", "그만"
_KEYWORD_NOISE = re.compile(r"[\s.!~?ㅠㅜ]+")
# How often the upkeep loop runs (journal replay, escalation, closing cases).
UPKEEP_S = 1.0
CLOSE_CASES_EVERY_S = 3600.0


class Unhandled(Exception):
    """An inbound SMS could not be acted on; `claimed`: its MessageSid was recorded."""

    def __init__(self, claimed: bool) -> None:
        super().__init__("unhandled")
        self.claimed = claimed


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
            cancel_queued_to(session, sender_id, number)
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


def journal_dir(settings: Settings):
    """Where this desk keeps SMS it could not act on yet (one per desk port)."""
    return settings.var_dir / f"sms-journal-{settings.desk_port}"


def tell_student(settings: Settings, sender_id: str, name: str) -> None:
    """Queues one SMS text of content/sms.yml to the student of `sender_id`."""
    with session_scope(settings) as session:
        phone = sms_phone(session, sender_id)
        if phone is not None:
            enqueue(session, phone, sms.text(name), utcnow(), sender_id=sender_id)


def rasa_unavailable(settings: Settings, sender_id: str) -> None:
    """Rasa did not take a student's SMS (it waits in the journal): tell them,
    with the numbers to call."""
    tell_student(settings, sender_id, "unavailable")


def database_answers(settings: Settings) -> bool:
    try:
        with session_scope(settings) as session:
            session.execute(select(1))
    except SQLAlchemyError:
        return False
    return True


def claim_message(settings: Settings, message_sid: Optional[str]) -> bool:
    """Records an inbound SMS as acted on; False when it already was (a
    duplicate delivery or replay). A message without a MessageSid is acted on."""
    if not message_sid:
        return True
    try:
        with session_scope(settings) as session:
            session.add(InboundSms(message_sid=message_sid[:64], received_at=utcnow()))
            session.flush()
    except IntegrityError:
        return False
    return True


def act_on_inbound(settings: Settings, fields: Dict[str, Any], claimed: bool) -> Optional[Route]:
    """Claims the MessageSid (unless `claimed`) and routes the SMS; None for a
    duplicate. A database failure becomes `Unhandled`, saying whether the
    claim was made (so that a replay does not take the message for a duplicate)."""
    try:
        if not claimed:
            if not claim_message(settings, fields.get("MessageSid")):
                return None
            claimed = True
        return route_inbound(
            settings, fields.get("From", ""), fields.get("Body", ""), bool(fields.get("media"))
        )
    except SQLAlchemyError as error:
        raise Unhandled(claimed) from error


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
        self.rasa: Optional[RasaClient] = None
        self._stop: Optional[asyncio.Event] = None
        self._tasks: Set[asyncio.Task] = set()
        self._loops: List[asyncio.Task] = []
        self._order: Dict[str, list] = {}
        self._wake: Optional[asyncio.Event] = None
        self.journal = Journal(journal_dir(settings), settings.secret_key)
        self._per_number = RateLimiter(settings.sms_per_number_per_minute, window_s=60.0)
        self._slow_down_told = RateLimiter(1, window_s=60.0)
        self._unavailable_told = RateLimiter(1, window_s=300.0)

    # --- lifecycle ---------------------------------------------------------------

    async def start(self, app: Sanic, _loop: Any) -> None:
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jikimi-desk")
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self.rasa = RasaClient(self.settings, self._http)
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        if len(self.journal):
            logger.warning("%s SMS wait in the journal; replayed first.", len(self.journal))
        transport = await self.blocking(sms.transport_for, self.settings)
        if transport.name == "local":
            logger.warning(
                "Twilio credentials are not all set: SMS are recorded in %s and printed, NOT sent.",
                sms.local_record_path(self.settings),
            )
        if not self.settings.twilio_auth_token:
            logger.warning("TWILIO_AUTH_TOKEN is not set: every inbound SMS is refused (403).")
        dispatcher = Dispatcher(self.settings, transport)
        self._loops = [
            asyncio.create_task(run_forever(dispatcher, self._stop, self._executor)),
            asyncio.create_task(self._upkeep_forever()),
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

    async def inbound(self, request: Request) -> response.HTTPResponse:
        form = _Form.parse(request)
        if form is None or not self.signed(form, request.headers.get("X-Twilio-Signature", "")):
            logger.warning("An inbound SMS request without a valid Twilio signature was refused.")
            return response.text("Forbidden", status=403)
        try:
            media = int(form.first("NumMedia") or 0) > 0
        except ValueError:
            media = False
        fields = {
            "From": form.first("From"),
            "Body": form.first("Body"),
            "media": media,
            "MessageSid": form.first("MessageSid") or None,
        }
        if len(self.journal):
            # Earlier SMS wait to be replayed: this one queues behind them, and
            # its sender hears about the outage if it is still on.
            await self.blocking(self.journal.append, {"kind": "inbound", "fields": fields})
            self._wake.set()
            if await self.blocking(database_answers, self.settings):
                return _twiml()
            return _twiml(await self._outage_replies(fields["Body"]))
        try:
            route = await self.blocking(act_on_inbound, self.settings, fields, False)
        except Unhandled as unhandled:
            await self.blocking(
                self.journal.append,
                {"kind": "inbound", "fields": fields, "claimed": unhandled.claimed},
            )
            logger.error("The database is unavailable: an inbound SMS was journaled.")
            return _twiml(await self._outage_replies(fields["Body"]))
        if route is None:
            return _twiml()  # delivered twice: acted on already
        self.follow_up(route)
        return _twiml()

    def follow_up(self, route: Route) -> None:
        """What is left after the database part of an inbound SMS: Rasa's part."""
        logger.info("Inbound SMS: %s", route.kind)
        if route.kind == "student" and route.text and not self._per_number.allow(route.sender_id):
            logger.info("An SMS number went over its limit; the rest of the burst is not answered.")
            if self._slow_down_told.allow(route.sender_id):
                self.spawn(self.blocking(tell_student, self.settings, route.sender_id, "slow_down"))
            return
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

    async def _outage_replies(self, body: str) -> List[str]:
        """What the sender of an SMS the desk could not act on reads at once
        (TwiML: no database needed): the crisis reply first when Rasa's NLU
        finds danger, then the outage notice with the hotlines."""
        replies = []
        danger = await self.rasa.danger(body)
        if danger is not None:
            replies.append(sms.text("outage_crisis", danger=danger))
        replies.append(sms.text("outage"))
        return replies

    # --- Rasa ----------------------------------------------------------------------

    async def _to_rasa(self, sender_id: str, text: str) -> None:
        async with self.in_order(sender_id):
            if await self.blocking(self.journal.holds, sender_id):
                outcome = UNAVAILABLE  # keep the order: behind what waits
            else:
                outcome = await self.rasa.student_message(sender_id, text)
            if outcome == UNAVAILABLE:
                await self.blocking(
                    self.journal.append, {"kind": "rasa", "sender_id": sender_id, "text": text}
                )
                self._wake.set()
        if outcome != DELIVERED and self._unavailable_told.allow(sender_id):
            try:
                await self.blocking(rasa_unavailable, self.settings, sender_id)
            except SQLAlchemyError:
                logger.error("The student could not be told that their SMS was not answered.")

    async def _tell(self, notice: handoff.Notice) -> None:
        async with self.in_order(notice.sender_id):
            told = await self.rasa.trigger(notice)
        if not told and notice.intent == handoff.COUNSELLOR_MESSAGE and notice.code:
            await self.blocking(handoff.relay_failed, self.settings, notice.code)

    async def _reset(self, sender_id: str, events: List[Dict[str, str]]) -> None:
        async with self.in_order(sender_id):
            await self.rasa.append_events(sender_id, events)

    # --- upkeep: the journal, escalation, closing cases ---------------------------

    async def _upkeep_forever(self) -> None:
        """Replays the journal first (a counsellor's 수락 kept during an outage
        comes before the escalation that would otherwise pass it by), then the
        escalation sweep; closes inactive cases once an hour."""
        interval = min(UPKEEP_S * 5, max(0.5, self.settings.handoff_timeout_s / 4))
        closed_at = -CLOSE_CASES_EVERY_S
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            try:
                await self.replay()
                if not len(self.journal):
                    for notice in await self.blocking(handoff.escalate_expired, self.settings):
                        self.spawn(self._tell(notice))
                if loop.time() - closed_at >= CLOSE_CASES_EVERY_S:
                    await self.blocking(close_inactive_cases, self.settings)
                    closed_at = loop.time()
            except SQLAlchemyError as error:
                logger.warning("upkeep waits for the database (%s)", type(error).__name__)
            except Exception:  # noqa: BLE001 - try again on the next tick
                logger.exception("the upkeep loop failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass

    async def replay(self) -> int:
        """Acts on journaled SMS, oldest first, until one still cannot be; returns
        how many were done."""
        done = 0
        for entry in await self.blocking(self.journal.entries):
            if self._stop.is_set():
                break
            if entry.kind == "inbound":
                try:
                    route = await self.blocking(
                        act_on_inbound, self.settings, entry.data["fields"],
                        bool(entry.data.get("claimed")),
                    )  # fmt: skip
                except Unhandled as unhandled:
                    if unhandled.claimed and not entry.data.get("claimed"):
                        await self.blocking(self.journal.remove, entry)
                        await self.blocking(self.journal.append, {**entry.data, "claimed": True})
                    break
                await self.blocking(self.journal.remove, entry)
                if route is not None:
                    self.follow_up(route)
            elif entry.kind == "rasa":
                sender_id, text = entry.data["sender_id"], entry.data["text"]
                async with self.in_order(sender_id):
                    outcome = await self.rasa.student_message(sender_id, text)
                if outcome == UNAVAILABLE:
                    break
                if outcome == REFUSED:
                    logger.error("a journaled SMS was refused by Rasa and dropped")
                await self.blocking(self.journal.remove, entry)
            else:
                await self.blocking(self.journal.remove, entry)
            done += 1
        if done:
            logger.info("%s journaled SMS replayed; %s wait", done, len(self.journal))
        return done


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


def _twiml(messages: Sequence[str] = ()) -> response.HTTPResponse:
    """TwiML: empty (replies go through the outbox), or `messages` sent back to
    the sender by Twilio itself (when the outbox cannot be used)."""
    if not messages:
        return response.text(EMPTY_TWIML, content_type="text/xml; charset=utf-8")
    body = "".join(f"<Message>{escape(message)}</Message>" for message in messages)
    return response.text(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="text/xml; charset=utf-8",
    )


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
