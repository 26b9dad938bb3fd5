"""The counsellor's SMS command grammar: what an SMS from a counsellor asks for.

`수락 CODE` accepts, `거절 CODE` declines, `종료 CODE` ends; `CODE message`
relays the message to that handoff's student; plain text is for the one
handoff the counsellor has accepted (jikimi.handoff decides which); anything
unclear gets the commands back. Codes may be typed in lower case, without the
hyphen, or in brackets. Reading only: jikimi.handoff acts on the `Command`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from jikimi.db.models import CODE_ALPHABET

ACCEPT, DECLINE, CLOSE, RELAY, HELP, PLAIN = "accept", "decline", "close", "relay", "help", "plain"
WORDS = {"수락": ACCEPT, "거절": DECLINE, "종료": CLOSE}

_CODE = rf"JK-?[{CODE_ALPHABET}]{{6}}"
_COMMAND = re.compile(rf"(수락|거절|종료)\s*[:：]?\s*({_CODE})(?![{CODE_ALPHABET}])\s*(.*)", re.S)
_ADDRESSED = re.compile(rf"[\[(]?({_CODE})(?![{CODE_ALPHABET}])[\])]?\s*[:：]?\s*(.*)", re.S)
_COMMAND_WORD = re.compile(r"(수락|거절|종료)(?![가-힣])")
_TRAILING_PUNCTUATION = re.compile(r"^[\s.!~]*$")


@dataclass(frozen=True)
class Command:
    """What a counsellor's SMS asks: `kind` (ACCEPT, DECLINE, CLOSE, RELAY, HELP
    or PLAIN), the handoff `code` it names, and the words to relay (`text`)."""

    kind: str
    code: Optional[str] = None
    text: str = ""


def _normalise_code(raw: str) -> str:
    raw = raw.upper().replace("-", "")
    return f"JK-{raw[2:]}"


def _tidy(text: str) -> str:
    # NFC, not NFKC: the words are relayed as written.
    return unicodedata.normalize("NFC", text or "").strip()


def _upper_codes(text: str) -> str:
    """Codes typed in lower case ("jk-7f3q2m") read as codes."""
    return re.sub(r"(?i)\bjk-?[0-9a-z]{6}\b", lambda m: m.group(0).upper(), text)


def parse(text: str) -> Command:
    """The command an SMS from a counsellor gives.

    Words after `수락 CODE` are relayed once accepted; after `거절 CODE` they are
    kept from the student (who need not read a reason); after `종료 CODE` they
    could not be relayed (the handoff is closed), so the commands come back.
    """
    body = _upper_codes(_tidy(text))
    command = _COMMAND.fullmatch(body)
    if command:
        word, code, rest = command.group(1), _normalise_code(command.group(2)), command.group(3)
        rest = "" if _TRAILING_PUNCTUATION.match(rest) else rest.strip()
        if WORDS[word] == CLOSE and rest:
            return Command(HELP)
        return Command(WORDS[word], code, rest)
    addressed = _ADDRESSED.fullmatch(body)
    if addressed and addressed.group(2).strip():
        return Command(RELAY, _normalise_code(addressed.group(1)), addressed.group(2).strip())
    if not body or _COMMAND_WORD.match(body) or addressed:
        return Command(HELP)
    return Command(PLAIN, text=body)
