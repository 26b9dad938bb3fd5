"""A fake Twilio on 127.0.0.1: the Messages resource, for tests and the benchmark.

A real HTTP server (stdlib, a thread per request) that twilio's own client
talks to once `TWILIO_API_BASE` points here:

- `POST /2010-04-01/Accounts/{sid}/Messages.json` creates a message (form
  fields To, From, Body; HTTP Basic auth with the account's sid and token) and
  answers 201 with Twilio's JSON, or Twilio's error JSON (400 for a missing
  field, 401 for bad credentials).
- `GET /2010-04-01/Accounts/{sid}/Messages.json` lists messages (To, From
  filters; newest first), as the dispatcher does after an ambiguous failure.

Trouble on demand: `fail_next(500, n)` / `fail_next(429, n)`, `down()` until
`up()`, and `hang_next(n, record=...)`, which holds the answer until
`release()` (or for `seconds`): with `record=True` the message is created first,
as when Twilio accepted it but the answer never arrived.

`inbound(...)` plays Twilio's other half: it signs an inbound SMS webhook with
twilio's RequestValidator and posts it to the desk service.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Callable, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

import requests
from twilio.request_validator import RequestValidator

from tests.support.local_server import LocalHttpServer

API = "/2010-04-01/Accounts/"
SERVICE_NUMBER = "+15005550006"


@dataclass
class Message:
    sid: str
    to: str
    from_: str
    body: str
    created: datetime
    received: float = field(default_factory=time.monotonic)  # for latency figures

    def resource(self, account_sid: str) -> Dict:
        stamp = format_datetime(self.created)
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "date_created": stamp,
            "date_updated": stamp,
            "date_sent": None,
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "api_version": "2010-04-01",
            "messaging_service_sid": None,
            "uri": f"{API}{account_sid}/Messages/{self.sid}.json",
            "subresource_uris": {},
        }


@dataclass
class _Trouble:
    fail: List[int] = field(default_factory=list)  # statuses for the next creates
    down_status: Optional[int] = None
    hang: List[bool] = field(default_factory=list)  # per next create: record first?
    hang_seconds: Optional[float] = None


class FakeTwilio(LocalHttpServer):
    """Start with `with FakeTwilio() as fake:`; `fake.url` is its TWILIO_API_BASE."""

    def __init__(self, account_sid: Optional[str] = None, auth_token: Optional[str] = None):
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.from_number = SERVICE_NUMBER
        self._lock = threading.Condition()
        self._messages: List[Message] = []
        self.requests: List[Dict] = []  # method, path, status answered
        self._trouble = _Trouble()
        self._release = threading.Event()

    # --- lifecycle ---------------------------------------------------------------

    def stop(self) -> None:
        self._release.set()
        super().stop()

    def env(self) -> Dict[str, str]:
        """The TWILIO_* settings that point the service here."""
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": self.from_number,
            "TWILIO_API_BASE": self.url,
        }

    # --- trouble -----------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._trouble.fail.extend([status] * count)

    def down(self, status: int = 500) -> None:
        with self._lock:
            self._trouble.down_status = status

    def up(self) -> None:
        with self._lock:
            self._trouble.down_status = None

    def hang_next(self, count: int = 1, record: bool = True, seconds: Optional[float] = None):
        with self._lock:
            self._release.clear()
            self._trouble.hang.extend([record] * count)
            self._trouble.hang_seconds = seconds

    def release(self) -> None:
        self._release.set()

    def reset(self) -> None:
        with self._lock:
            self._trouble = _Trouble()
            self._messages.clear()
            self.requests.clear()
        self._release.set()

    # --- what was received -------------------------------------------------------

    @property
    def messages(self) -> List[Message]:
        with self._lock:
            return list(self._messages)

    def to(self, number: str) -> List[Message]:
        return [m for m in self.messages if m.to == number]

    def wait_for(
        self, predicate: Callable[[List[Message]], object], timeout: float = 60.0, what: str = ""
    ):
        """Blocks until `predicate(messages)` is truthy and returns its value."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate(list(self._messages))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    bodies = "\n".join(f"{m.to}: {m.body}" for m in self._messages[-15:])
                    raise AssertionError(
                        f"fake Twilio: timed out waiting for {what or predicate}; "
                        f"last messages:\n{bodies}"
                    )
                self._lock.wait(min(left, 0.2))

    def wait_for_message(self, to: str, contains: str = "", after: int = 0, timeout=60.0):
        """The first message to `to` (containing `contains`) after the `after`-th one to it."""

        def found(messages):
            mine = [m for m in messages if m.to == to][after:]
            return next((m for m in mine if contains in m.body), None)

        return self.wait_for(found, timeout, f"an SMS to {to} containing {contains!r}")

    # --- HTTP --------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        expected = f"{API}{self.account_sid}/Messages.json"
        if url.path != expected:
            return self._answer(handler, method, url.path, 404, _error(20404, "Not found", 404))
        if not self._authorised(handler.headers.get("Authorization", "")):
            return self._answer(handler, method, url.path, 401, _error(20003, "Authenticate", 401))
        if method == "GET":
            return self._answer(handler, method, url.path, 200, self._list(query))
        with self._lock:
            status = self._trouble.down_status
            if status is None and self._trouble.fail:
                status = self._trouble.fail.pop(0)
            hang = self._trouble.hang.pop(0) if status is None and self._trouble.hang else None
            seconds = self._trouble.hang_seconds
        answer = functools.partial(self._answer, handler, method, url.path)
        if status is not None:
            message = "Too Many Requests" if status == 429 else "Internal Server Error"
            return answer(status, _error(20000 + status, message, status))
        if not form.get("To"):
            return answer(400, _error(21604, "A 'To' phone number is required.", 400))
        if not form.get("Body"):
            return answer(400, _error(21602, "Message body is required.", 400))
        created = None
        if hang is None or hang:
            created = self._create(form)
        if hang is not None:
            with self._lock:
                self.requests.append({"method": method, "path": url.path, "status": "hung"})
            self._release.wait(seconds if seconds is not None else 120)
            try:
                handler.connection.close()
            except OSError:
                pass
            return None
        return answer(201, created.resource(self.account_sid))

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _create(self, form: Dict[str, str]) -> Message:
        message = Message(
            sid="SM" + secrets.token_hex(16),
            to=form["To"],
            from_=form.get("From", ""),
            body=form["Body"],
            created=datetime.now(timezone.utc).replace(microsecond=0),
        )
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()
        return message

    def _list(self, query: Dict[str, str]) -> Dict:
        with self._lock:
            found = [
                m
                for m in reversed(self._messages)
                if (not query.get("To") or m.to == query["To"])
                and (not query.get("From") or m.from_ == query["From"])
            ]
        size = int(query.get("PageSize", 50))
        page = [m.resource(self.account_sid) for m in found[:size]]
        uri = f"{API}{self.account_sid}/Messages.json"
        return {
            "messages": page,
            "end": max(len(page) - 1, 0),
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }

    def _answer(self, handler, method: str, path: str, status: int, payload: Dict) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "status": status})
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass

    # --- inbound (Twilio calling the desk) ---------------------------------------

    def inbound_params(self, from_: str, body: str, media: int = 0) -> Dict[str, str]:
        return {
            "MessageSid": "SM" + secrets.token_hex(16),
            "SmsSid": "SM" + secrets.token_hex(16),
            "AccountSid": self.account_sid,
            "From": from_,
            "To": self.from_number,
            "Body": body,
            "NumMedia": str(media),
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }

    def inbound(
        self,
        desk_url: str,
        from_: str,
        body: str,
        public_url: Optional[str] = None,
        token: Optional[str] = None,
        signature: Optional[str] = None,
        media: int = 0,
    ) -> requests.Response:
        """Posts a signed inbound SMS to the desk's /sms/inbound, as Twilio does.

        The signature covers `public_url + /sms/inbound` (the desk's
        JIKIMI_PUBLIC_URL, by default `desk_url`); pass `token` to sign with
        another auth token, or `signature` to send that header verbatim.
        """
        params = self.inbound_params(from_, body, media)
        signed_url = (public_url or desk_url).rstrip("/") + "/sms/inbound"
        if signature is None:
            signature = RequestValidator(token or self.auth_token).compute_signature(
                signed_url, params
            )
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return requests.post(
            desk_url.rstrip("/") + "/sms/inbound", data=params, headers=headers, timeout=30
        )


def _error(code: int, message: str, status: int) -> Dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
