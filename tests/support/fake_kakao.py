"""A fake Kakao on 127.0.0.1: Open Builder calling the skill, the event API, and
callback URLs, for tests (jikimi/kakao.py has the formats and their sources).

- `say(user, utterance)` plays a student's message: Open Builder's skill
  request (version 2.0 payload) POSTed to the skill URL with the secret header
  the operator set, answered within Open Builder's 5 seconds or recorded as
  timed out. `callback=True` gives the request a one-time callback URL, as a
  block with the callback switched on does. Each response is checked against
  the format and limits (`violations`).
- `POST /v2/bots/{bot}/talk` is the event API (`Authorization: KakaoAK key`);
  when it accepts, it plays the event block: it calls the skill for each user
  with the block's parameters, in the background, and shows what the skill
  answers, as Kakao does with a block connected to a skill.
- `POST /callback/{token}` takes one late response per token within a minute.

What a student sees is kept per user (`chat(user)`): every bubble and where it
came from (a reply, a callback, an event). Trouble on demand: `event_down()` /
`event_up()`, `event_fail_next(status, n, accept=...)` (accept: Kakao took it,
but the answer said otherwise).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlsplit

import requests

from tests.support.local_server import LocalHttpServer

SKILL_TIMEOUT_S = 5.0
CALLBACK_VALID_S = 60.0
MAX_OUTPUTS = 3
TEXT_CHARS = 1000
MAX_QUICK_REPLIES = 10


@dataclass
class Bubble:
    text: str
    source: str  # reply, callback, event
    at: float = field(default_factory=time.monotonic)


@dataclass
class Answer:
    """One skill request as Open Builder saw it."""

    status: Optional[int]
    body: Dict[str, Any]
    elapsed: float
    timed_out: bool = False

    @property
    def texts(self) -> List[str]:
        outputs = (self.body.get("template") or {}).get("outputs") or []
        return [o["simpleText"]["text"] for o in outputs if "simpleText" in o]

    @property
    def quick_replies(self) -> List[Dict[str, str]]:
        return (self.body.get("template") or {}).get("quickReplies") or []

    @property
    def uses_callback(self) -> bool:
        return bool(self.body.get("useCallback"))


def check_response(body: Any) -> List[str]:
    """What is wrong with a skill response (empty when nothing)."""
    problems = []
    if not isinstance(body, dict) or body.get("version") != "2.0":
        return ["not a version 2.0 skill response"]
    if body.get("useCallback"):
        return [] if "template" not in body else ["useCallback with a template"]
    template = body.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("outputs"), list):
        return ["no template.outputs"]
    outputs = template["outputs"]
    if len(outputs) > MAX_OUTPUTS:
        problems.append(f"{len(outputs)} outputs")
    for output in outputs:
        text = (output.get("simpleText") or {}).get("text")
        if not isinstance(text, str) or not text or len(text) > TEXT_CHARS:
            problems.append(f"bad simpleText ({len(text or '')} characters)")
    replies = template.get("quickReplies") or []
    if replies and not outputs:
        problems.append("quick replies without outputs")
    if len(replies) > MAX_QUICK_REPLIES:
        problems.append(f"{len(replies)} quick replies")
    for reply in replies:
        if (
            reply.get("action") != "message"
            or not reply.get("label")
            or not reply.get("messageText")
        ):
            problems.append(f"bad quick reply {reply}")
    return problems


class FakeKakao(LocalHttpServer):
    """Start with `with FakeKakao() as kakao:`; then `kakao.skill_url = ...`."""

    def __init__(self) -> None:
        self.rest_api_key = secrets.token_hex(16)
        self.bot_id = secrets.token_hex(12)
        self.secret = secrets.token_urlsafe(24)
        self.skill_url: Optional[str] = None
        self._lock = threading.Condition()
        self._chats: Dict[str, List[Bubble]] = {}
        self.event_requests: List[Dict[str, Any]] = []  # status, user, accepted
        self.skill_answers: List[Answer] = []
        self.violations: List[str] = []
        self._callbacks: Dict[str, Dict[str, Any]] = {}
        self._quick: Dict[str, List[Dict[str, str]]] = {}  # last quick replies per user
        self._fail: List[tuple] = []
        self._down: Optional[int] = None

    def env(self) -> Dict[str, str]:
        """The settings that point the service here and set the skill's secret."""
        return {
            "JIKIMI_KAKAO_SKILL_SECRET": self.secret,
            "KAKAO_API_BASE": self.url,
            "KAKAO_REST_API_KEY": self.rest_api_key,
            "KAKAO_BOT_ID": self.bot_id,
        }

    # --- trouble -----------------------------------------------------------------------

    def event_down(self, status: int = 500) -> None:
        with self._lock:
            self._down = status

    def event_up(self) -> None:
        with self._lock:
            self._down = None

    def event_fail_next(self, status: int, count: int = 1, accept: bool = False) -> None:
        with self._lock:
            self._fail.extend([(status, accept)] * count)

    # --- Open Builder calling the skill ------------------------------------------------------

    @staticmethod
    def payload(
        user: str,
        utterance: str,
        *,
        block: str = "폴백 블록",
        params: Optional[Dict[str, Any]] = None,
        callback_url: Optional[str] = None,
        media: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]:
        """A skill request as Open Builder sends it (SkillPayload)."""
        request: Dict[str, Any] = {
            "timezone": "Asia/Seoul",
            "params": {"ignoreMe": "true", **({"media": media} if media else {})},
            "block": {"id": "b-" + block, "name": block},
            "utterance": utterance,
            "lang": "ko",
            "user": {
                "id": user,
                "type": "botUserKey",
                "properties": {"botUserKey": user, "plusfriendUserKey": "pf-" + user[:8]},
            },
        }
        if callback_url:
            request["callbackUrl"] = callback_url
        return {
            "intent": {"id": "b-" + block, "name": block},
            "userRequest": request,
            "bot": {"id": "bot", "name": "지킴이"},
            "action": {
                "name": "jikimi",
                "clientExtra": {},
                "params": dict(params or {}),
                "id": "skill",
                "detailParams": {},
            },
        }

    def post_skill(
        self, payload: Dict[str, Any], secret: Optional[str] = "default", source: str = "reply"
    ) -> Answer:
        """POSTs a skill request; the answer counts only within 5 seconds."""
        assert self.skill_url, "set skill_url first"
        headers = {}
        if secret == "default":
            secret = self.secret
        if secret is not None:
            headers["X-Jikimi-Kakao-Secret"] = secret
        started = time.monotonic()
        try:
            answer = requests.post(
                self.skill_url, json=payload, headers=headers, timeout=SKILL_TIMEOUT_S
            )
        except requests.exceptions.Timeout:
            result = Answer(None, {}, time.monotonic() - started, timed_out=True)
            with self._lock:
                self.skill_answers.append(result)
                self.violations.append("a skill request timed out")
            return result
        elapsed = time.monotonic() - started
        try:
            body = answer.json()
        except ValueError:
            body = {}
        result = Answer(answer.status_code, body if isinstance(body, dict) else {}, elapsed)
        user = payload["userRequest"]["user"]["id"]
        with self._lock:
            self.skill_answers.append(result)
            if answer.status_code == 200:
                self.violations.extend(check_response(result.body))
                self._show(user, result.texts, source)
                if result.texts:
                    self._quick[user] = result.quick_replies
        return result

    def say(
        self,
        user: str,
        utterance: str,
        *,
        callback: bool = False,
        secret: Optional[str] = "default",
        media: Optional[Dict[str, str]] = None,
    ) -> Answer:
        callback_url = self.new_callback(user) if callback else None
        return self.post_skill(
            self.payload(user, utterance, callback_url=callback_url, media=media), secret
        )

    def tap(self, user: str, contains: str) -> Answer:
        """Taps the last quick reply offered to `user` whose label has `contains`."""
        with self._lock:
            offered = list(self._quick.get(user, []))
        for reply in offered:
            if contains in reply["label"] or contains in reply["messageText"]:
                return self.say(user, reply["messageText"])
        raise AssertionError(f"no quick reply with {contains!r}; offered {offered}")

    def offered(self, user: str) -> List[str]:
        with self._lock:
            return [r["messageText"] for r in self._quick.get(user, [])]

    # --- what the student sees ---------------------------------------------------------------

    def _show(self, user: str, texts: List[str], source: str) -> None:
        chat = self._chats.setdefault(user, [])
        chat.extend(Bubble(t, source) for t in texts)
        self._lock.notify_all()

    def chat(self, user: str) -> List[Bubble]:
        with self._lock:
            return list(self._chats.get(user, []))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fake Kakao: timed out waiting for {what}")
                self._lock.wait(min(left, 0.2))

    def wait_for_text(
        self, user: str, contains: str, after: int = 0, timeout: float = 60.0
    ) -> Bubble:
        """The first bubble shown to `user` after the `after`-th containing `contains`."""

        def found():
            return next((b for b in self._chats.get(user, [])[after:] if contains in b.text), None)

        try:
            return self.wait_for(found, timeout, f"{contains!r} for {user[:8]}")
        except AssertionError:
            shown = "\n".join(f"[{b.source}] {b.text[:80]}" for b in self.chat(user)[-10:])
            raise AssertionError(
                f"{contains!r} never reached the student; last:\n{shown}"
            ) from None

    # --- callbacks -------------------------------------------------------------------------

    def new_callback(self, user: str) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._callbacks[token] = {"user": user, "issued": time.monotonic(), "used": None}
        return f"{self.url}/v1/bots/{self.bot_id}/callback/{token}"

    def callbacks_used(self) -> List[Dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._callbacks.values() if c["used"] is not None]

    # --- HTTP ------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if handler.command == "POST" and path == f"/v2/bots/{self.bot_id}/talk":
            return self._answer(handler, *self._event(handler, body))
        if handler.command == "POST" and path.startswith(f"/v1/bots/{self.bot_id}/callback/"):
            return self._answer(handler, *self._callback(path.rsplit("/", 1)[1], body))
        if handler.command == "GET" and path.startswith("/v1/tasks/"):
            return self._answer(handler, 200, {"status": "SUCCESS", "allRequestCount": 1,
                                               "successCount": 1, "fail": None})  # fmt: skip
        return self._answer(handler, 404, {"message": "not found"})

    def _event(self, handler, body) -> tuple:
        if handler.headers.get("Authorization") != f"KakaoAK {self.rest_api_key}":
            return 401, {"status": "FAIL", "message": "unauthorized"}
        users = body.get("user") if isinstance(body, dict) else None
        event = body.get("event") if isinstance(body, dict) else None
        named = isinstance(event, dict) and event.get("name")
        if not (isinstance(users, list) and users and named):
            return 400, {"status": "FAIL", "message": "bad request"}
        with self._lock:
            status, accept = (self._down, False) if self._down is not None else (None, True)
            if status is None and self._fail:
                status, accept = self._fail.pop(0)
            record = {"status": status or 200, "users": [u.get("id") for u in users],
                      "accepted": accept, "event": event.get("name")}  # fmt: skip
            self.event_requests.append(record)
            self._lock.notify_all()
        if accept:
            params = body.get("params") if isinstance(body.get("params"), dict) else {}
            for user in users:
                threading.Thread(
                    target=self._play_event_block,
                    args=(user.get("id"), event["name"], params),
                    daemon=True,
                ).start()
        if status is not None:
            return status, {"status": "FAIL", "message": "internal error"}
        return 200, {"taskId": secrets.token_hex(12), "status": "SUCCESS",
                     "message": "", "timestamp": int(time.time() * 1000)}  # fmt: skip

    def _play_event_block(self, user: str, name: str, params: Dict[str, Any]) -> None:
        time.sleep(0.05)  # Kakao sends the block after answering the event API
        if self.skill_url is None:
            return  # the event API alone (unit tests)
        self.post_skill(self.payload(user, "", block=name, params=params), source="event")

    def _callback(self, token: str, body: Any) -> tuple:
        with self._lock:
            entry = self._callbacks.get(token)
            if entry is None or entry["used"] is not None:
                return 400, {"status": "FAIL", "message": "invalid callback"}
            if time.monotonic() - entry["issued"] > CALLBACK_VALID_S:
                return 400, {"status": "FAIL", "message": "expired callback"}
            entry["used"] = time.monotonic()
            problems = check_response(body)
            self.violations.extend(problems)
            answer = Answer(200, body if isinstance(body, dict) else {}, 0.0)
            self._show(entry["user"], answer.texts, "callback")
            if answer.texts:
                self._quick[entry["user"]] = answer.quick_replies
        return 200, {"taskId": secrets.token_hex(8), "status": "SUCCESS", "message": ""}

    def _answer(self, handler, status: int, payload: Dict) -> None:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass
