"""KakaoTalk through a Kakao i Open Builder bot: skill requests and responses,
the event API, and what is kept.

The Rasa server answers Open Builder's skill requests (bot/kakao_channel.py);
this module holds what that needs and does not depend on Rasa: reading a skill
request, packing replies into a skill response within Kakao's limits, the
outbox side (messages a student must get outside a request), and the event API
transport the desk's dispatcher sends through. Everything that touches the
database blocks: async code calls it in a thread.

Kakao's documentation relied on (Korean; the same pages are published at
kakaobusiness.gitbook.io and i.kakao.com/docs):
- Skill request and response (SkillPayload, SkillResponse `version: "2.0"`,
  `template.outputs`, `simpleText`, `quickReplies` with `action: "message"`):
  https://kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/answer_json_format
  (https://i.kakao.com/docs/skill-response-format).
- The time limit and the callback: "skill timeout: 5sec"; a block with the
  callback switched on gets a one-time `userRequest.callbackUrl`, "valid time:
  1min", usable once; the skill answers `{"version": "2.0", "useCallback": true,
  "data": {...}}` at once and POSTs the real response there later:
  https://kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/ai_chatbot_callback_guide
  (https://i.kakao.com/docs/skill-callback-dev-guide).
- The event API (the bot speaks first: a block with an event name is sent to
  users; each message is charged): https://kakaobusiness.gitbook.io/main/tool/chatbot/main_notions/event-api
  and a block connected to a skill answers with the skill's response:
  https://kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/apply_skill_to_block

Limits we could not read in Kakao's own pages (only their first sections are
in the copies we could search) are taken from public skill servers and SDKs and
chosen conservatively; each constant below says which.

How a message reaches a student outside a request ("the doorbell"). The event
API sends a block, not a text, so the event block (`EVENT_NAME`) is connected
to this same skill. A message for the student is queued in the outbox
(`channel="kakao"`); the dispatcher asks the event API to send the event block
to the student; Open Builder then calls the skill for that block, and the skill
answers with every message still waiting for that student, marking each shown
(`delivered_at`). So a message is shown once however often the bell rings (a
retry after a timeout rings twice; the second call finds nothing waiting and
answers with no outputs), and a message whose bell never rang (the event API
down for good) is shown with the student's next answer. The counsellor's words
never travel in the event API call itself.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote, urlsplit

import requests
from sqlalchemy import delete, select, update

from jikimi import content, handoff, sms
from jikimi.db import (
    OutboxMessage,
    delete_conversation_data,
    enqueue,
    kakao_sender_id,
    kakao_sender_of,
    kakao_user_key,
    sender_hash,
    session_scope,
    utcnow,
)
from jikimi.settings import Settings
from jikimi.sms import SendError, connection_refused, split_sms

logger = logging.getLogger(__name__)


CHANNEL = "kakao"
# Open Builder waits 5 s for a skill ("skill timeout: 5sec", callback guide).
SKILL_TIMEOUT_S = 5.0
# We answer by then at the latest, leaving the rest for the network both ways.
ANSWER_WITHIN_S = 3.5
# A callback URL is "valid time: 1min" and usable once (callback guide); a
# reply later than this goes through the event API instead.
CALLBACK_DEADLINE_S = 50.0
CALLBACK_TIMEOUT_S = 8.0
# SkillTemplate.outputs: 1 to 3 components. Not in the part of Kakao's page we
# could read; public response builders enforce 3 ("max Component is 3",
# github.com/myabcc17/chatbot-v2-response-builder).
MAX_OUTPUTS = 3
# simpleText.text: 1,000 characters (public skill servers' notes; longer text
# is cut). Not confirmed in Kakao's page we could read: we split at 1,000 the
# way the SMS channel splits at 320, so no bubble is ever longer.
TEXT_CHARS = 1000
# quickReplies: at most 10 (the same builders and SDKs: "max QuickReply is 10").
MAX_QUICK_REPLIES = 10
# QuickReply.label: no limit we could confirm. Labels longer than this are
# shortened on the button; what the button sends (messageText) stays whole.
QUICK_REPLY_LABEL_CHARS = 14
# The event (and block) the operator sets up; its block uses this skill.
EVENT_NAME = "jikimi_message"
EVENT_TIMEOUT_S = 10.0
# Marks our event in the block's parameters (the event API's `params`).
EVENT_PARAM = "jikimi"
EVENT_PARAM_VALUE = "deliver"
MAX_USER_KEY_CHARS = 255

ERASE, STOP = "삭제", "그만"
# ㅠ and ㅜ as typed, and as NFKC leaves them (conjoining jamo U+1172, U+116E).
_KEYWORD_NOISE = re.compile(r"[\s.!~?ㅠㅜ\u1172\u116e]+")
# Where KakaoTalk keeps what users send (seen in public skill servers' tests and
# exports; a photo arrives as its URL): a bare link there is a picture, not words.
_MEDIA_HOSTS = ("talk.kakaocdn.net", "k.kakaocdn.net", "dn-m.talk.kakao.com", "dn.talk.kakao.com")


# --- texts -----------------------------------------------------------------------


def _texts() -> dict:
    return content.read_yaml("kakao.yml")


def text(name: str, **context: Any) -> str:
    """A text of content/kakao.yml, else of content/sms.yml (the same words by SMS)."""
    source = _texts().get(name)
    if source is None:
        return sms.text(name, **context)
    return content.environment("sms").from_string(source).render(**context).strip()


def keyword(utterance: str) -> Optional[str]:
    """`삭제` or `그만` when that is the whole message, as by SMS."""
    bare = _KEYWORD_NOISE.sub("", unicodedata.normalize("NFKC", utterance or ""))
    return bare if bare in (ERASE, STOP) else None


# --- skill requests ----------------------------------------------------------------


@dataclass(frozen=True)
class SkillRequest:
    """What we use of Open Builder's SkillPayload."""

    user_key: str
    utterance: str
    callback_url: Optional[str] = None
    media: bool = False
    delivery: bool = False  # the event block asking for what is waiting


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_media_link(utterance: str) -> bool:
    words = utterance.split()
    if len(words) != 1:
        return False
    parts = urlsplit(words[0])
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "https") and any(
        host == h or host.endswith("." + h) for h in _MEDIA_HOSTS
    )


def parse_request(body: Any) -> SkillRequest:
    """The parts of a skill request we need; ValueError when it is not one.

    The user is `userRequest.user.id` (type botUserKey) or, as some payloads
    carry it, `userRequest.user.properties.botUserKey`. A picture or video
    arrives as `userRequest.params.media` (and a CDN link as the utterance).
    Unknown fields are ignored: Kakao adds fields without notice.
    """
    payload = _dict(body)
    request = _dict(payload.get("userRequest"))
    if not request:
        raise ValueError("no userRequest")
    user = _dict(request.get("user"))
    key = user.get("id") or _dict(user.get("properties")).get("botUserKey")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_USER_KEY_CHARS:
        raise ValueError("no usable user key")
    utterance = request.get("utterance")
    utterance = utterance if isinstance(utterance, str) else ""
    params = _dict(request.get("params"))
    trigger = _dict(_dict(payload.get("flow")).get("trigger")).get("type")
    media = (
        isinstance(params.get("media"), dict)
        or (isinstance(trigger, str) and "UPLOAD" in trigger.upper())
        or _is_media_link(utterance)
    )
    action_params = _dict(_dict(payload.get("action")).get("params"))
    block_names = {
        _dict(payload.get("intent")).get("name"),
        _dict(request.get("block")).get("name"),
    }
    delivery = action_params.get(EVENT_PARAM) == EVENT_PARAM_VALUE or EVENT_NAME in block_names
    if not media and not utterance.strip():
        delivery = True  # nothing to read: show what is waiting, if anything
    callback = request.get("callbackUrl")
    return SkillRequest(
        user_key=key,
        utterance=utterance,
        callback_url=callback if isinstance(callback, str) and callback else None,
        media=media and not delivery,
        delivery=delivery,
    )


def callback_allowed(url: Optional[str], settings: Settings) -> bool:
    """Only Kakao's own callback URLs (the event API's origin, or https on
    *.kakao.com) are called back: a forged request must not make us POST the
    conversation anywhere else."""
    if not url:
        return False
    parts, base = urlsplit(url), urlsplit(settings.kakao_api_base)
    if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and (host == "kakao.com" or host.endswith(".kakao.com"))


# --- skill responses -----------------------------------------------------------------

Message = Dict[str, Any]  # {"text": str, "buttons": [{"title": str, "payload": str}]}


def message(text_: str, buttons: Sequence[Dict[str, Any]] = ()) -> Message:
    return {
        "text": text_ or "",
        "buttons": [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons
            if isinstance(b, dict) and str(b.get("title", "")).strip()
        ],
    }


def _parts(said: Message) -> List[str]:
    return split_sms(said.get("text") or "", limit=TEXT_CHARS)


@dataclass
class Packed:
    """Messages as at most MAX_OUTPUTS bubbles: `taken[i]` parts of message i fit."""

    bubbles: List[str]
    buttons: List[Dict[str, str]]
    taken: List[int]


def pack(messages: Sequence[Message]) -> Packed:
    """Each message is split as the SMS channel splits (at paragraphs, lines,
    sentences; "(1/2)" marks) into parts of at most TEXT_CHARS. With at most
    MAX_OUTPUTS parts each is a bubble of its own; with more, neighbours share
    a bubble (a blank line between) as long as it stays within TEXT_CHARS.
    What does not fit is left for the caller (`taken`). The buttons of every
    message that fit whole become the quick replies."""
    parts = [_parts(m) for m in messages]
    units = sum(len(p) for p in parts)
    bubbles: List[str] = []
    taken = [0] * len(messages)
    buttons: List[Dict[str, str]] = []
    full = False
    for index, pieces in enumerate(parts):
        for piece in pieces:
            if units <= MAX_OUTPUTS:
                bubbles.append(piece)
            elif bubbles and len(bubbles[-1]) + 2 + len(piece) <= TEXT_CHARS:
                bubbles[-1] += "\n\n" + piece
            elif len(bubbles) < MAX_OUTPUTS:
                bubbles.append(piece)
            else:
                full = True
                break
            taken[index] += 1
        if full:
            break
        buttons.extend(messages[index].get("buttons") or [])
    return Packed(bubbles, buttons, taken)


def quick_replies(buttons: Sequence[Dict[str, str]]) -> List[Dict[str, str]]:
    """Rasa's buttons as quick replies that send their title as the student's
    message (action "message"); the channel maps the title back to the
    button's payload. Duplicates dropped, at most MAX_QUICK_REPLIES."""
    seen, replies = set(), []
    for button in buttons:
        title = (button.get("title") or "").strip()
        if not title or title in seen:
            continue
        seen.add(title)
        label = (
            title
            if len(title) <= QUICK_REPLY_LABEL_CHARS
            else title[: QUICK_REPLY_LABEL_CHARS - 1] + "…"
        )
        replies.append({"label": label, "action": "message", "messageText": title})
    if len(replies) > MAX_QUICK_REPLIES:
        logger.warning("%s quick replies cut to %s", len(replies), MAX_QUICK_REPLIES)
    return replies[:MAX_QUICK_REPLIES]


def skill_response(bubbles: Sequence[str], buttons: Sequence[Dict[str, str]] = ()) -> dict:
    """A SkillResponse 2.0. No bubbles: no outputs, which shows nothing (what
    the event block answers when nothing is waiting)."""
    template: Dict[str, Any] = {"outputs": [{"simpleText": {"text": b}} for b in bubbles]}
    replies = quick_replies(buttons) if bubbles else []
    if replies:
        template["quickReplies"] = replies
    return {"version": "2.0", "template": template}


def callback_ack() -> dict:
    """The immediate answer of a callback block: Open Builder shows the block's
    own waiting message (`data.text` fills its webhook variable if it uses one)
    and takes the real response at the callback URL."""
    return {"version": "2.0", "useCallback": True, "data": {"text": text("still_working")}}


# --- the database side (blocking) ---------------------------------------------------------


def sender_for(settings: Settings, user_key: str) -> str:
    """The conversation id of a bot user key (made on its first message)."""
    with session_scope(settings) as session:
        return kakao_sender_id(session, user_key, utcnow())


def known_sender(settings: Settings, user_key: str) -> Optional[str]:
    with session_scope(settings) as session:
        return kakao_sender_of(session, user_key)


def _enqueue(session, user_key: str, sender_id: str, said: Message, now: datetime) -> None:
    body = json.dumps(said, ensure_ascii=False)
    enqueue(session, user_key, body, now, sender_id=sender_id, channel=CHANNEL)


def queue(settings: Settings, sender_id: str, messages: Sequence[Message]) -> int:
    """Queues messages for a student outside a request (the dispatcher rings
    the event block); 0 when the conversation has no user key (erased)."""
    messages = [m for m in messages if (m.get("text") or "").strip()]
    if not messages:
        return 0
    with session_scope(settings) as session:
        user_key = kakao_user_key(session, sender_id)
        if user_key is None:
            return 0
        now = utcnow()
        for said in messages:
            _enqueue(session, user_key, sender_id, said, now)
        return len(messages)


@dataclass
class Delivery:
    """A skill response and what it showed (to take back if it never arrived)."""

    response: dict
    rows: List[int] = field(default_factory=list)
    replies: List[Message] = field(default_factory=list)


def _waiting(session, sender_id: str):
    return list(
        session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.sender_hash == sender_hash(session, sender_id),
                OutboxMessage.channel == CHANNEL,
                OutboxMessage.delivered_at.is_(None),
            )
            .order_by(OutboxMessage.id)
            .with_for_update()
        ).scalars()
    )


def _loads(body: str) -> Message:
    try:
        said = json.loads(body)
    except ValueError:
        said = None
    return said if isinstance(said, dict) else message(body)


def deliver(settings: Settings, sender_id: str, replies: Sequence[Message] = ()) -> Delivery:
    """The skill response for this student now: every message still waiting
    (oldest first), then `replies` (this request's answer), packed into
    MAX_OUTPUTS bubbles. What is shown is marked delivered in the same
    transaction; what does not fit stays queued and its event block is rung
    again, so nothing is lost and nothing is shown twice."""
    replies = [r for r in replies if (r.get("text") or "").strip() or r.get("buttons")]
    for _ in range(3):
        with session_scope(settings) as session:
            now = utcnow()
            rows = _waiting(session, sender_id)
            said = [_loads(row.body) for row in rows]
            packed = pack(said + list(replies))
            user_key = None
            shown_rows: List[int] = []
            left_rows = []
            raced = False
            for row, message_, count in zip(rows, said, packed.taken, strict=False):
                if count == 0:
                    left_rows.append(row)
                    continue
                status = "sent" if row.status == "queued" else row.status
                result = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, OutboxMessage.delivered_at.is_(None))
                    .values(delivered_at=now, status=status)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:
                    raced = True  # another request showed it meanwhile
                    break
                shown_rows.append(row.id)
                rest = _parts(message_)[count:]
                if rest:
                    user_key = user_key or kakao_user_key(session, sender_id)
                    for piece in rest:
                        if user_key:
                            _enqueue(session, user_key, sender_id, message(piece), now)
            if raced:
                session.rollback()
                continue
            shown_replies: List[Message] = []
            for reply, count in zip(replies, packed.taken[len(rows) :], strict=True):
                pieces = _parts(reply)
                if count:
                    shown_replies.append(message("\n\n".join(pieces[:count]), reply["buttons"]))
                rest = pieces[count:]
                if rest:
                    user_key = user_key or kakao_user_key(session, sender_id)
                    if user_key:
                        for index, piece in enumerate(rest):
                            last = index == len(rest) - 1
                            buttons = reply["buttons"] if last else []
                            _enqueue(session, user_key, sender_id, message(piece, buttons), now)
            if left_rows and not any(row.status in ("queued", "sending") for row in left_rows):
                # Their bell has rung already (or given up): ring once more.
                first = left_rows[0]
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == first.id)
                    .values(status="queued", next_attempt_at=now)
                    .execution_options(synchronize_session=False)
                )
            return Delivery(
                skill_response(packed.bubbles, packed.buttons), shown_rows, shown_replies
            )
    raise RuntimeError("the waiting KakaoTalk messages kept changing")


def undeliver(settings: Settings, sender_id: str, delivery: Delivery) -> None:
    """A response that never reached Kakao (the callback failed): its waiting
    messages wait again and its replies are queued, each rung by the dispatcher."""
    with session_scope(settings) as session:
        now = utcnow()
        if delivery.rows:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(delivery.rows))
                .values(delivered_at=None, status="queued", next_attempt_at=now)
                .execution_options(synchronize_session=False)
            )
        user_key = kakao_user_key(session, sender_id)
        if user_key:
            for said in delivery.replies:
                _enqueue(session, user_key, sender_id, said, now)


def erase(settings: Settings, user_key: str) -> Optional[str]:
    """The student sent "삭제": ends the handoff (its counsellor is told), erases the
    conversation's rows and the user key; returns the erased sender id."""
    with session_scope(settings) as session:
        sender_id = kakao_sender_of(session, user_key)
        if sender_id is not None:
            handoff.end_active_handoff(session, sender_id, utcnow())
            delete_conversation_data(session, sender_id)
        return sender_id


def stop(settings: Settings, user_key: str) -> Optional[str]:
    """The student sent "그만": ends the handoff, drops messages still waiting;
    returns the sender id (None for a user who never wrote)."""
    with session_scope(settings) as session:
        sender_id = kakao_sender_of(session, user_key)
        if sender_id is not None:
            handoff.end_active_handoff(session, sender_id, utcnow())
            session.execute(
                delete(OutboxMessage)
                .where(
                    OutboxMessage.sender_hash == sender_hash(session, sender_id),
                    OutboxMessage.channel == CHANNEL,
                    OutboxMessage.delivered_at.is_(None),
                )
                .execution_options(synchronize_session=False)
            )
        return sender_id


# --- the event API (the desk's dispatcher) --------------------------------------------------


class KakaoEventTransport:
    """Rings a student's event block through Kakao's event API:
    `POST {KAKAO_API_BASE}/v2/bots/{KAKAO_BOT_ID}/talk` with
    `Authorization: KakaoAK {KAKAO_REST_API_KEY}` and
    `{"event": {"name", "data"}, "user": [{"type": "botUserKey", "id"}], "params"}`;
    Kakao answers with a `taskId` (kept as the provider id). `body` (the
    message) is not sent: the event block's skill call shows it."""

    name = "kakao"

    def __init__(self, settings: Settings, timeout: float = EVENT_TIMEOUT_S) -> None:
        if not settings.kakao_enabled:
            raise ValueError("KAKAO_REST_API_KEY and KAKAO_BOT_ID are both needed.")
        # A development channel's bot id ends in "!" (kept as it is).
        bot = quote(settings.kakao_bot_id, safe="!")
        self._url = f"{settings.kakao_api_base}/v2/bots/{bot}/talk"
        self._headers = {"Authorization": f"KakaoAK {settings.kakao_rest_api_key}"}
        self._timeout = timeout
        self._http = requests.Session()

    def send(self, to: str, body: str) -> str:
        payload = {
            "event": {"name": EVENT_NAME, "data": {}},
            "user": [{"type": "botUserKey", "id": to}],
            "params": {EVENT_PARAM: EVENT_PARAM_VALUE},
        }
        try:
            answer = self._http.post(
                self._url, json=payload, headers=self._headers, timeout=self._timeout
            )
        except requests.exceptions.ConnectTimeout:
            raise SendError("kakao: connection timed out") from None
        except requests.exceptions.ConnectionError as error:
            if connection_refused(error):
                raise SendError("kakao: connection refused") from None
            raise SendError("kakao: connection lost", ambiguous=True) from None
        except requests.exceptions.RequestException as error:
            raise SendError(f"kakao: {type(error).__name__}", ambiguous=True) from None
        status = answer.status_code
        try:
            data = answer.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        if status == 200 and data.get("taskId") and data.get("status", "SUCCESS") == "SUCCESS":
            return str(data["taskId"])[:64]
        said = str(data.get("status") or data.get("message") or "")[:200]
        reason = f"kakao event API {status}: {said}"
        if status == 400:
            # A malformed request or an unknown user: retrying will not help (the
            # message is still shown with the student's next answer).
            raise SendError(reason, permanent=True)
        if status >= 500:
            raise SendError(reason, ambiguous=True)
        raise SendError(reason)  # 2xx without a task, 401/403/429: later

    def find_sent(self, to: str, body: str, since: datetime) -> List[str]:
        # The event API cannot be searched; ringing twice is harmless (above).
        return []


class KakaoNotRung:
    """Without KAKAO_REST_API_KEY and KAKAO_BOT_ID nothing can ring: messages
    wait and are shown with the student's next answer."""

    name = "local"

    def send(self, to: str, body: str) -> str:
        logger.info("A KakaoTalk message waits for the student's next message (no event API).")
        return "NOT-RUNG"

    def find_sent(self, to: str, body: str, since: datetime) -> List[str]:
        return []


def transport_for(settings: Settings):
    return KakaoEventTransport(settings) if settings.kakao_enabled else KakaoNotRung()


def quick_reply_titles(response: dict) -> Tuple[str, ...]:
    """The titles a skill response offers (tests, the curious operator)."""
    replies = _dict(response.get("template")).get("quickReplies") or []
    return tuple(r.get("messageText", "") for r in replies)
