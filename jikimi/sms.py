"""SMS: the transports the outbox dispatcher sends through, splitting, and our SMS texts.

Two transports, chosen by the settings (`transport_for`):
- `TwilioTransport`: twilio's own client, its HTTP client (`ApiBaseHttpClient`)
  pointed at `TWILIO_API_BASE`. Authentication, form encoding and error parsing
  are twilio's; only scheme and host are rewritten, so tests and a proxy see the
  real API calls.
- `LocalRecorder`: without all three TWILIO_* credentials nothing is sent; each
  message is appended to `var/sms-not-sent.jsonl` and printed, marked NOT SENT.

A send either returns the provider's id or raises `SendError`, which says
whether trying again can help (`permanent`) and whether the provider may have
accepted the message even so (`ambiguous`: a timeout or a 5xx after the request
went out). The dispatcher looks an ambiguous message up (`find_sent`) before
sending it again, so a timeout does not send it twice.

Everything here blocks; async code calls it in a thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, List, Optional, TextIO
from urllib.parse import urlsplit, urlunsplit

from jikimi import content
from jikimi.settings import Settings

logger = logging.getLogger(__name__)


# Twilio advises keeping a message under 320 characters for deliverability; a
# Korean (UCS-2) SMS of that length arrives as one message of 5 segments.
SMS_PART_CHARS = 320
# A counsellor notice fits in 2 UCS-2 segments (2 x 67 characters).
COUNSELLOR_SMS_CHARS = 134
# Twilio's own timeout is none at all; a send must end well within the outbox
# lease (jikimi.db.outbox.DEFAULT_LEASE), or another dispatcher could claim it.
TWILIO_TIMEOUT_S = 10.0
# How far a provider's clock may be behind ours when matching an ambiguous send.
CLOCK_SKEW = timedelta(minutes=2)


# --- texts ---------------------------------------------------------------------


def _texts() -> dict:
    return content.read_yaml("sms.yml")


def text(name: str, **context: Any) -> str:
    """One SMS text of content/sms.yml, rendered; KeyError for an unknown name."""
    source = _texts()[name]
    if not isinstance(source, str):
        raise KeyError(f"{name!r} in content/sms.yml is not a text")
    return content.environment("sms").from_string(source).render(**context).strip()


def label(group: str, key: Optional[str], default: str) -> str:
    """A category's Korean label (content/sms.yml `group`), or `default`'s label."""
    labels = _texts()[group]
    return labels.get(key) or labels[default]


def categories(group: str) -> tuple:
    """The keys of a label group of content/sms.yml (platform, channel, ...)."""
    return tuple(_texts()[group])


def ucs2_length(body: str) -> int:
    """Length as an SMS counts it: UTF-16 code units (an emoji counts twice)."""
    return len(body.encode("utf-16-le")) // 2


# --- splitting -----------------------------------------------------------------

# Coarsest first: paragraphs, lines, sentences, words; characters as a last resort.
_BREAKS = (
    ("\n\n", re.compile(r"\n\s*\n")),
    ("\n", re.compile(r"\n")),
    (" ", re.compile(r"(?<=[.!?。])\s+")),
    (" ", re.compile(r"\s+")),
)
_MARK_ROOM = len(" (99/99)")


def _pack(body: str, room: int, level: int = 0) -> List[str]:
    if len(body) <= room:
        return [body]
    if level == len(_BREAKS):
        return [body[i : i + room] for i in range(0, len(body), room)]
    joiner, pattern = _BREAKS[level]
    units = [unit.strip() for unit in pattern.split(body) if unit.strip()]
    if len(units) <= 1:
        return _pack(body, room, level + 1)
    parts: List[str] = []
    current = ""
    for unit in units:
        if len(unit) > room:
            if current:
                parts.append(current)
            pieces = _pack(unit, room, level + 1)
            parts.extend(pieces[:-1])
            current = pieces[-1]
            continue
        candidate = f"{current}{joiner}{unit}" if current else unit
        if len(candidate) <= room:
            current = candidate
        else:
            parts.append(current)
            current = unit
    if current:
        parts.append(current)
    return parts


def split_sms(body: str, limit: int = SMS_PART_CHARS, prefix: str = "") -> List[str]:
    """`body` as SMS parts of at most `limit` characters, each starting with `prefix`.

    Split at paragraph breaks where possible, then lines, sentences and words;
    parts of a split message end with " (1/3)", since SMS may arrive out of order.
    An empty body gives no parts.
    """
    body = body.strip()
    if not body:
        return []
    if len(prefix) + len(body) <= limit:
        return [prefix + body]
    room = limit - len(prefix) - _MARK_ROOM
    if room < 20:
        raise ValueError("the prefix leaves no room for the message")
    parts = _pack(body, room)
    return [f"{prefix}{part} ({i}/{len(parts)})" for i, part in enumerate(parts, start=1)]


def mask_phone(number: str) -> str:
    """`+821012345678` -> `+8210****5678`: enough to tell numbers apart, not to dial."""
    if len(number) <= 8:
        return "****"
    return f"{number[:5]}****{number[-4:]}"


# --- transports ----------------------------------------------------------------


class SendError(Exception):
    """A message did not go out (or we cannot tell that it did).

    `permanent`: trying again will not help (an invalid number). `ambiguous`:
    the provider may have accepted it anyway (a timeout or a server error after
    the request went out), so look before sending it again.
    """

    def __init__(self, reason: str, *, permanent: bool = False, ambiguous: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.ambiguous = ambiguous


class TwilioNotConfigured(Exception):
    pass


def _api_base_client_class():
    # Imported when first needed: twilio pulls in requests and more.
    from twilio.http.http_client import TwilioHttpClient

    class ApiBaseHttpClient(TwilioHttpClient):
        """twilio's HTTP client with every request's scheme and host set to
        `api_base` (TWILIO_API_BASE, which may carry a path prefix). Requests
        are logged at DEBUG without their parameters (which hold numbers)."""

        def __init__(self, api_base: str, timeout: float = TWILIO_TIMEOUT_S) -> None:
            super().__init__(timeout=timeout)
            base = urlsplit(api_base)
            if base.scheme not in ("http", "https") or not base.netloc:
                raise ValueError(f"TWILIO_API_BASE must be an http(s) URL, not {api_base!r}.")
            self._scheme = base.scheme
            self._netloc = base.netloc
            self._prefix = base.path.rstrip("/")

        def request(self, method: str, url: str, *args: Any, **kwargs: Any):
            parts = urlsplit(url)
            url = urlunsplit(
                (self._scheme, self._netloc, self._prefix + parts.path, parts.query, "")
            )
            return super().request(method, url, *args, **kwargs)

        def log_request(self, kwargs: dict) -> None:
            logger.debug("Twilio API %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

        def log_response(self, status_code: int, response: Any) -> None:
            logger.debug("Twilio API answered %s", status_code)

    return ApiBaseHttpClient


def api_base_http_client(api_base: str, timeout: float = TWILIO_TIMEOUT_S):
    """A `TwilioHttpClient` that sends to `api_base` instead of *.twilio.com."""
    return _api_base_client_class()(api_base, timeout)


def _classify(error: Exception) -> SendError:
    """What a failed Twilio call means for trying again."""
    import requests
    from twilio.base.exceptions import TwilioRestException

    if isinstance(error, TwilioRestException):
        reason = f"twilio {error.status} (code {error.code}): {error.msg}"
        if error.status == 429:
            return SendError(reason)
        if error.status == 400:
            # Invalid or unreachable number, message refused: it will not get better.
            return SendError(reason, permanent=True)
        if error.status >= 500:
            return SendError(reason, ambiguous=True)
        # 401/403/404: our account or settings, not the message; retried later.
        return SendError(reason)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return SendError("twilio: connection timed out")
    if isinstance(error, requests.exceptions.ConnectionError) and connection_refused(error):
        return SendError("twilio: connection refused")
    if isinstance(error, requests.exceptions.RequestException):
        # The request may have reached Twilio (read timeout, connection reset).
        return SendError(f"twilio: {type(error).__name__}", ambiguous=True)
    raise error


def connection_refused(error: Exception) -> bool:
    """True when no connection was made at all (nothing can have been sent)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    inner = error.args[0] if error.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    return isinstance(inner, NewConnectionError)


class TwilioTransport:
    """Sends through Twilio's Messages API from the service number."""

    name = "twilio"

    def __init__(self, settings: Settings, timeout: float = TWILIO_TIMEOUT_S) -> None:
        if not settings.twilio_enabled:
            raise TwilioNotConfigured(
                "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER are all needed."
            )
        from twilio.rest import Client

        self._from = settings.twilio_from_number
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=api_base_http_client(settings.twilio_api_base, timeout),
        )

    def send(self, to: str, body: str) -> str:
        try:
            return self._client.messages.create(to=to, from_=self._from, body=body).sid
        except Exception as error:  # noqa: BLE001 - classified, or re-raised if unknown
            raise _classify(error) from None

    def find_sent(self, to: str, body: str, since: datetime) -> List[str]:
        """Ids of messages Twilio has from our number to `to` with this body,
        created since `since` (less clock skew), newest first."""
        try:
            messages = self._client.messages.list(to=to, from_=self._from, limit=100)
        except Exception as error:  # noqa: BLE001
            try:
                raise _classify(error) from None
            except SendError as classified:
                raise SendError(classified.reason, ambiguous=True) from None
        earliest = since - CLOCK_SKEW
        return [
            m.sid
            for m in messages
            if m.body == body and (m.date_created is None or m.date_created >= earliest)
        ]


class LocalRecorder:
    """No Twilio credentials: record and print each message, send nothing."""

    name = "local"

    def __init__(self, path: Path, out: Optional[TextIO] = None) -> None:
        self.path = path
        self._out = out

    def send(self, to: str, body: str) -> str:
        sid = "LOCAL" + secrets.token_hex(16)
        record = {
            "sid": sid,
            "to": to,
            "body": body,
            "at": datetime.now(timezone.utc).isoformat(),
            "sent": False,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        out = self._out or sys.stdout
        print(
            f"[SMS NOT SENT - no Twilio credentials; recorded in {self.path.name}] "
            f"to {mask_phone(to)}:\n{body}",
            file=out,
            flush=True,
        )
        return sid

    def find_sent(self, to: str, body: str, since: datetime) -> List[str]:
        return []  # a recorded message is never in doubt

    def records(self) -> List[dict]:
        """What was recorded so far (tests, the curious operator)."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]


def local_record_path(settings: Settings) -> Path:
    return settings.var_dir / "sms-not-sent.jsonl"


def transport_for(settings: Settings):
    """Twilio when all three TWILIO_* credentials are set, else the local recorder."""
    if settings.twilio_enabled:
        return TwilioTransport(settings)
    return LocalRecorder(local_record_path(settings))
