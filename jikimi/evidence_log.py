"""The evidence log: a page the student prints or saves as PDF for the police or
the d4u centre, behind a link that expires.

The link (`make_link`) is `JIKIMI_PUBLIC_URL/evidence/<token>`, where the token
is a Fernet token (AES-CBC + HMAC-SHA256, from `cryptography`) of the case code
and an expiry time, under keys derived from `JIKIMI_SECRET_KEY` for this use
alone. Why this rather than a random token stored hashed in a table:

- nothing to store, migrate or clean up: the link is valid exactly while its
  expiry has not passed and its case exists; deleting the case ("delete my
  data", retention) ends every link to it at once;
- the case code is encrypted inside, so a link seen in a browser history or a
  proxy log does not show the code the student uses with counsellors;
- it cannot be forged, altered or guessed without the key: forging one means
  breaking HMAC-SHA256 under a 128-bit key;
- keys rotate with `JIKIMI_SECRET_KEY`: links made with an older key still open
  while that key is in the list.
The price: one link cannot be revoked before it expires (only the case can be
deleted), so links are short-lived (a day by default, a week at most).

`render` fills `content/evidence_log.html` (jinja2, HTML-escaped throughout)
from the case; `render_error` the kind page for a link that does not open. The
desk serves both (jikimi/desk/evidence.py). Rendering blocks (database): call
it in a thread from async code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from markupsafe import Markup
from sqlalchemy import select

from jikimi import content
from jikimi.db import session_scope
from jikimi.db.crypto import Keyring
from jikimi.db.models import CODE_PATTERN, Case, utcnow
from jikimi.settings import Settings

DEFAULT_TTL_S = 24 * 3600
MAX_TTL_S = 7 * 24 * 3600
PATH = "/evidence/"
# Longer than any token we make; anything longer is refused before decoding.
MAX_TOKEN_CHARS = 400
TEMPLATE = "evidence_log.html"
ERROR_TEMPLATE = "evidence_log_error.html"
# Korea has no daylight saving time: a fixed offset is the Asia/Seoul zone.


# The page's one script (the print button), allowed by its hash in the CSP.
PRINT_SCRIPT = (
    'document.getElementById("print").addEventListener("click", function () { window.print(); });'
)


class LinkError(Exception):
    """An evidence-log link that does not open."""


class LinkInvalid(LinkError):
    """Forged, altered, cut short, or made with a key no longer configured."""


class LinkExpired(LinkError):
    """A genuine link past its expiry."""


class CaseNotFound(LookupError):
    """No case has this code (deleted by the student, or purged)."""


@dataclass(frozen=True)
class LinkTarget:
    case_code: str
    expires_at: datetime


def _fernet(secret_key: str) -> MultiFernet:
    """One Fernet key per key of JIKIMI_SECRET_KEY, derived for links alone: a link
    token can never be a value encrypted in the database, nor the reverse."""
    Keyring(secret_key)  # the same validation and message as everywhere else
    fernets = []
    for key in (part.strip() for part in secret_key.split(",") if part.strip()):
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"jikimi evidence-log link"
        ).derive(base64.urlsafe_b64decode(key))
        fernets.append(Fernet(base64.urlsafe_b64encode(derived)))
    return MultiFernet(fernets)


def make_link(
    settings: Settings, case_code: str, ttl_s: int = DEFAULT_TTL_S, now: Optional[float] = None
) -> str:
    """The full URL of the case's evidence log, valid for `ttl_s` seconds."""
    if not CODE_PATTERN.fullmatch(case_code or ""):
        raise ValueError(f"{case_code!r} is not a case code.")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be between 1 and {MAX_TTL_S} seconds, not {ttl_s}.")
    issued = int(time.time() if now is None else now)
    payload = json.dumps({"c": case_code, "exp": issued + ttl_s}, separators=(",", ":"))
    token = _fernet(settings.secret_key).encrypt_at_time(payload.encode(), issued)
    return settings.public_url + PATH + token.decode("ascii").rstrip("=")


def verify(settings: Settings, token: str, now: Optional[float] = None) -> LinkTarget:
    """The case a link's token opens; LinkInvalid or LinkExpired otherwise."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise LinkInvalid()
    padded = token + "=" * (-len(token) % 4)
    try:
        payload = json.loads(_fernet(settings.secret_key).decrypt(padded.encode("ascii")))
        code, expires = payload["c"], int(payload["exp"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        raise LinkInvalid() from None
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        raise LinkInvalid()
    if (time.time() if now is None else now) >= expires:
        raise LinkExpired()
    return LinkTarget(code, datetime.fromtimestamp(expires, timezone.utc))


# --- the page -------------------------------------------------------------------------------


def script_hash() -> str:
    """The CSP source that lets the page's print button script run, and nothing else."""
    digest = hashlib.sha256(PRINT_SCRIPT.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def _platform_name(platform: Optional[str]) -> Optional[str]:
    """Korean platform names as the report form shows them (content/report.yml)."""
    if not platform:
        return None
    try:
        question = content.read_yaml("report.yml")["questions"]["report_platform"]
        return (question.get("shown") or {}).get(platform, platform)
    except (OSError, KeyError, TypeError):
        return platform


def _case_context(case: Case) -> Dict[str, Any]:
    kinds = content.labels("evidence_kinds")
    evidence: List[Dict[str, Any]] = [
        {
            "number": number,
            "kind": kinds.get(item.kind, item.kind),
            "name": item.name,
            "url": item.url,
            "description": item.description,
            "captured_at": item.captured_at,
            "recorded_at": item.created_at,
            "sha256": item.sha256,
        }
        for number, item in enumerate(case.evidence, start=1)
    ]
    timeline = [{"at": case.created_at, "what": content.label("evidence_log", "case_created")}]
    for entry in evidence:
        label = content.label(
            "evidence_log", "evidence", number=entry["number"], name=entry["name"] or entry["kind"]
        )
        if entry["captured_at"] is not None:
            what = content.label("evidence_log", "captured", label=label)
            timeline.append({"at": entry["captured_at"], "what": what})
        else:
            what = content.label("evidence_log", "recorded", label=label)
            timeline.append({"at": entry["recorded_at"], "what": what})
    timeline.sort(key=lambda row: row["at"])
    return {
        "code": case.code,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "platform": _platform_name(case.platform),
        "when_happened": case.when_happened,
        "still_online": case.still_online,
        "relation": content.labels("perpetrator_relations").get(case.perpetrator_relation or ""),
        "urls": list(case.urls or []),
        "evidence": evidence,
        "timeline": timeline,
    }


def render(
    settings: Settings,
    case_code: str,
    *,
    expires_at: Optional[datetime] = None,
    now: Optional[datetime] = None,
) -> str:
    """The evidence log page of a case as HTML; CaseNotFound if there is none."""
    with session_scope(settings) as session:
        case = session.execute(select(Case).where(Case.code == case_code)).scalar_one_or_none()
        if case is None:
            raise CaseNotFound(case_code)
        case_context = _case_context(case)
    return (
        content.environment("html")
        .get_template(TEMPLATE)
        .render(
            case=case_context,
            generated_at=now or utcnow(),
            expires_at=expires_at,
            print_script=Markup(PRINT_SCRIPT),  # a constant: its quotes must stay quotes
        )
    )


def render_error(kind: str) -> str:
    """The kind page for a link that does not open: `invalid`, `expired`, `gone`
    (the case was deleted) or `unavailable` (our fault: try again later)."""
    if kind not in ("invalid", "expired", "gone", "unavailable"):
        raise ValueError(f"unknown error page {kind!r}")
    return content.environment("html").get_template(ERROR_TEMPLATE).render(kind=kind)


__all__ = [
    "DEFAULT_TTL_S",
    "MAX_TTL_S",
    "CaseNotFound",
    "LinkError",
    "LinkExpired",
    "LinkInvalid",
    "LinkTarget",
    "make_link",
    "render",
    "render_error",
    "script_hash",
    "verify",
]
