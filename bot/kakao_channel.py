"""The KakaoTalk channel of the Rasa server: a skill server for a Kakao i Open
Builder bot, at `POST /webhooks/kakao/skill` (../shared/interfaces.md).

Open Builder sends a skill request (the student's utterance and bot user key)
and waits 5 seconds for a skill response (version 2.0). Formats, limits and
Kakao's documentation: jikimi/kakao.py.

- Every request must carry the header `X-Jikimi-Kakao-Secret` that the operator
  set on the skill in Open Builder, compared in constant time with
  `JIKIMI_KAKAO_SKILL_SECRET`; anything else, and every request while that
  setting is empty, gets 403 and changes nothing.
- The bot user key becomes an opaque sender id (`kakao-...`); the key itself is
  kept encrypted, looked up by keyed hash (jikimi.db.KakaoContact), as SMS
  numbers are.
- Rasa's replies become `simpleText` outputs and its buttons quick replies
  that send the button's title; a title sent back is mapped to the button's
  payload (read from the tracker's last bot turn, as the SMS channel reads
  numbers). Long replies are split as by SMS (jikimi.kakao.pack).
- Messages waiting for the student (a counsellor's words...) come first in any
  response: see "the doorbell" in jikimi/kakao.py.
- Within the time limit: the answer is given if Rasa has it within
  jikimi.kakao.ANSWER_WITHIN_S. If not, and the block has Open Builder's
  callback switched on, we answer `useCallback` at once and POST the real
  response to the callback URL when Rasa is done (within its one minute);
  without a callback, or when that fails or comes too late, a short "the answer
  is coming" is given now and the replies reach the student through the event
  API. Nothing is lost either way.
- A picture or video is refused kindly and goes no further (as by SMS); a whole
  message `삭제` erases everything about the conversation, `그만` ends the
  session (as by SMS).

Outside a request (`trigger_intent` with `output_channel=latest`: a handoff
accepted, a counsellor's words, escalation, the end) replies are queued in the
outbox and reach the student through Kakao's event API (`KakaoEventOutput`).
The same guard as the other channels (bot/channels.py) applies.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
import unicodedata
from typing import Any, Dict, Iterable, List, Optional, Set, Text, Tuple

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import install
from bot.channels import Handler, guard
from jikimi import kakao, sms
from jikimi.settings import load_settings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Jikimi-Kakao-Secret"


@functools.cache
def _settings():
    """The Rasa process's settings, read on first use (never at import)."""
    return load_settings()


def authorised(given: Optional[str], expected: Optional[str]) -> bool:
    """The secret header, compared in constant time; no secret set: nobody."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _counsellor_text(json_message: Any) -> Optional[Text]:
    """A counsellor's words (custom JSON) as the student reads them; None for
    widget-only payloads, which have no KakaoTalk form."""
    data = json_message.get("data", json_message) if isinstance(json_message, dict) else {}
    said = data.get("text") if isinstance(data, dict) else None
    if not isinstance(said, str) or not said.strip():
        return None
    if data.get("from_counsellor"):
        return sms.text("from_counsellor", text=said.strip())
    return said


class KakaoCollectingOutput(OutputChannel):
    """Collects one request's replies, to answer in the skill response."""

    @classmethod
    def name(cls) -> Text:
        return kakao.CHANNEL

    def __init__(self) -> None:
        self.messages: List[kakao.Message] = []

    async def _add(self, recipient_id: Text, said: kakao.Message) -> None:
        self.messages.append(said)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._add(recipient_id, kakao.message(text))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._add(recipient_id, kakao.message(text, buttons))

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
        said = _counsellor_text(json_message)
        if said is not None:
            await self._add(recipient_id, kakao.message(said))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        logger.debug("An image reply has no KakaoTalk form here; skipped.")

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        logger.debug("An attachment reply has no KakaoTalk form here; skipped.")


class KakaoEventOutput(KakaoCollectingOutput):
    """Outside a request: each reply is queued in the outbox at once (in a
    thread: the database blocks) and reaches the student through the event API."""

    def __init__(self, settings=None) -> None:
        super().__init__()
        self._settings = settings

    async def _add(self, recipient_id: Text, said: kakao.Message) -> None:
        settings = self._settings or _settings()
        queued = await asyncio.to_thread(kakao.queue, settings, recipient_id, [said])
        if not queued and (said.get("text") or "").strip():
            logger.info("A KakaoTalk reply was dropped: its conversation has no user key.")


def _buttons_of_last_turn(events: Iterable[Any]) -> List[Dict[Text, Any]]:
    """Buttons the bot sent since the last user turn, in order."""
    from rasa.shared.core.events import BotUttered, UserUttered

    found: List[Dict[Text, Any]] = []
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            data = event.data or {}
            found[:0] = list(data.get("buttons") or data.get("quick_replies") or [])
    return found


def title_payload(text: Text, events: Iterable[Any]) -> Optional[Text]:
    """The payload of the quick reply whose title the student sent, or None."""
    said = unicodedata.normalize("NFC", text or "").strip()
    if not said:
        return None
    for button in _buttons_of_last_turn(events):
        title = unicodedata.normalize("NFC", str(button.get("title", ""))).strip()
        payload = button.get("payload")
        if title == said and isinstance(payload, str) and payload:
            return payload
    return None


class _Late:
    """Replies Rasa finishes after the skill response: kept in this process
    until they are delivered by callback or queued for the event API."""

    def __init__(self) -> None:
        self._tasks: Set[asyncio.Task] = set()
        self._http: Any = None

    def spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(self, url: Text, body: Dict[Text, Any]) -> bool:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=kakao.CALLBACK_TIMEOUT_S)
            )
        try:
            async with self._http.post(url, json=body) as answer:
                if 200 <= answer.status < 300:
                    return True
                logger.warning("The KakaoTalk callback answered %s.", answer.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.warning("The KakaoTalk callback failed: %s", type(error).__name__)
        return False

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=15)
        if self._http is not None:
            await self._http.close()
            self._http = None


class KakaoInput(InputChannel):
    """POST /webhooks/kakao/skill: Open Builder's skill requests."""

    @classmethod
    def name(cls) -> Text:
        return kakao.CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def get_output_channel(self) -> Optional[OutputChannel]:
        # trigger_intent from the desk (output_channel=latest): outside a request.
        return KakaoEventOutput()

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        handle = guard(on_new_message)
        late = _Late()
        bp = Blueprint("kakao_webhook", __name__)
        install.install(bp)

        @bp.listener("after_server_start")
        async def warn(app: Sanic, _loop: Any) -> None:
            if not _settings().kakao_skill_secret:
                logger.warning(
                    "JIKIMI_KAKAO_SKILL_SECRET is not set: every KakaoTalk skill request "
                    "is refused (403)."
                )

        @bp.listener("before_server_stop")
        async def close(app: Sanic, _loop: Any) -> None:
            await late.close()

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/skill", methods=["POST"])
        async def skill(request: Request) -> HTTPResponse:
            started = time.monotonic()
            settings = _settings()
            if not authorised(request.headers.get(SECRET_HEADER), settings.kakao_skill_secret):
                logger.warning("A KakaoTalk skill request without the right secret was refused.")
                return response.json({"error": "forbidden"}, status=403)
            try:
                skill_request = kakao.parse_request(request.json)
            except Exception:  # noqa: BLE001 - Sanic's error for bad JSON, or ours
                return response.json({"error": "not a skill request"}, status=400)
            answer = await self._answer(request, skill_request, handle, late, started)
            logger.info("KakaoTalk skill answered in %.0f ms", 1000 * (time.monotonic() - started))
            return response.json(answer)

        return bp

    async def _answer(
        self,
        request: Request,
        skill_request: kakao.SkillRequest,
        handle: Handler,
        late: _Late,
        started: float,
    ) -> Dict[Text, Any]:
        """The skill response, always within ANSWER_WITHIN_S of `started`:
        everything that may be slow (the database, Rasa) runs as one piece of
        work, and when it is late it finishes in the background (`_finish`)."""
        agent = getattr(request.app.ctx, "agent", None)
        word = None if skill_request.delivery else kakao.keyword(skill_request.utterance)
        if word == kakao.ERASE:
            return await self._erase(agent, skill_request.user_key)
        if word == kakao.STOP:
            return await self._stop(agent, skill_request.user_key)
        work = asyncio.ensure_future(self._turn(agent, skill_request, handle))
        budget = kakao.ANSWER_WITHIN_S - (time.monotonic() - started)
        done, _ = await asyncio.wait({work}, timeout=max(0.05, budget))
        if work in done:
            try:
                return work.result()[1].response
            except Exception:  # noqa: BLE001 - the database or Rasa failed
                logger.exception("a KakaoTalk skill request failed")
                return kakao.skill_response([kakao.text("unavailable")])
        if skill_request.delivery:
            # The event block asked and we are late: show nothing now; what was
            # waiting waits again and is rung once more (`_finish`).
            late.spawn(self._finish(work, None, started, late))
            return kakao.skill_response([])
        callback = skill_request.callback_url
        if kakao.callback_allowed(callback, _settings()):
            late.spawn(self._finish(work, callback, started, late))
            return kakao.callback_ack()
        late.spawn(self._finish(work, None, started, late))
        return kakao.skill_response([kakao.text("still_working")])

    async def _turn(
        self, agent: Any, skill_request: kakao.SkillRequest, handle: Handler
    ) -> Tuple[Optional[Text], kakao.Delivery]:
        """One request's work: who it is, Rasa's turn (unless it is the event
        block asking, or a picture), and the response with what was waiting.
        The response is marked shown when made (`kakao.deliver`)."""
        settings = _settings()
        key = skill_request.user_key
        if skill_request.delivery:
            sender_id = await asyncio.to_thread(kakao.known_sender, settings, key)
            if sender_id is None:
                return None, kakao.Delivery(kakao.skill_response([]))
            return sender_id, await asyncio.to_thread(kakao.deliver, settings, sender_id)
        sender_id = await asyncio.to_thread(kakao.sender_for, settings, key)
        if skill_request.media:
            replies = [kakao.message(kakao.text("no_media"))]
        else:
            text = skill_request.utterance
            first = True
            if agent is not None:
                tracker = await agent.tracker_store.retrieve(sender_id)
                if tracker is not None:
                    text = title_payload(text, tracker.events) or text
                    first = not any(e.type_name == "bot" for e in tracker.events)
            output = KakaoCollectingOutput()
            try:
                await handle(UserMessage(text, output, sender_id, input_channel=kakao.CHANNEL))
                replies = output.messages
                # The first reply of a conversation says Jikimi is a bot, as SMS does.
                if first and replies and not any("챗봇" in r.get("text", "") for r in replies):
                    replies = [kakao.message(kakao.text("intro"))] + replies
            except Exception as error:  # noqa: BLE001 - the student hears it was not answered
                logger.error("Rasa failed on a KakaoTalk message: %s", type(error).__name__)
                replies = output.messages + [kakao.message(kakao.text("unavailable"))]
        return sender_id, await asyncio.to_thread(kakao.deliver, settings, sender_id, replies)

    async def _finish(
        self, work: asyncio.Future, callback: Optional[Text], started: float, late: _Late
    ) -> None:
        """A request's work finished after its skill response: its response
        goes by callback while the callback is valid; otherwise (or when the
        callback fails) what it showed waits again and the dispatcher rings the
        student's event block (jikimi/kakao.py, "the doorbell")."""
        settings = _settings()
        try:
            if callback is not None:
                left = started + kakao.CALLBACK_DEADLINE_S - time.monotonic()
                done, _ = await asyncio.wait({work}, timeout=max(0.0, left))
                if work in done:
                    sender_id, delivery = work.result()
                    if await late.post(callback, delivery.response):
                        logger.info(
                            "KakaoTalk: a late answer went by callback after %.1f s",
                            time.monotonic() - started,
                        )
                        return
            sender_id, delivery = await work
            if sender_id is not None:
                await asyncio.to_thread(kakao.undeliver, settings, sender_id, delivery)
                logger.info("KakaoTalk: a late answer was queued for the event API.")
        except Exception:  # noqa: BLE001 - logged; nothing else to tell
            logger.exception("delivering a late KakaoTalk answer failed")

    async def _erase(self, agent: Any, user_key: Text) -> Dict[Text, Any]:
        """`삭제`: our rows and the key first, then the stored conversation
        (a Restarted event makes the tracker store delete what came before)."""
        from rasa.shared.core.events import Restarted

        settings = _settings()
        try:
            sender_id = await asyncio.to_thread(kakao.erase, settings, user_key)
        except Exception:  # noqa: BLE001 - say so: nothing was erased
            logger.exception("erasing a KakaoTalk conversation failed")
            return kakao.skill_response([kakao.text("erase_failed")])
        if sender_id is not None and agent is not None:
            await _append_events(agent, sender_id, [Restarted()])
        logger.info("A KakaoTalk conversation was erased on request.")
        return kakao.skill_response([kakao.text("erased")])

    async def _stop(self, agent: Any, user_key: Text) -> Dict[Text, Any]:
        """`그만`: the handoff and waiting messages end, the dialogue starts afresh."""
        from rasa.shared.core.events import ActionExecuted, SessionStarted

        settings = _settings()
        sender_id = await asyncio.to_thread(kakao.stop, settings, user_key)
        if sender_id is not None and agent is not None:
            await _append_events(
                agent, sender_id, [SessionStarted(), ActionExecuted("action_listen")]
            )
        return kakao.skill_response([kakao.text("session_ended")])


async def _append_events(agent: Any, sender_id: Text, events: List[Any]) -> None:
    """As Rasa's `POST /conversations/<id>/tracker/events`, in this process."""
    from rasa.server import update_conversation_with_events

    async with agent.lock_store.lock(sender_id):
        tracker = await update_conversation_with_events(
            sender_id, agent.processor, agent.domain, events
        )
        await agent.tracker_store.save(tracker)
