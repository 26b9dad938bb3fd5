"""Masking personal data in text that must be logged or shown to someone else.

`redact(text)` replaces, in this order:

- 주민등록번호 (resident registration numbers: YYMMDD-NNNNNNN, with or without the
  hyphen, also half-masked "900101-1******") with "[주민번호]";
- e-mail addresses (also "name 골뱅이 naver.com", "name(at)naver.com") with "[이메일]";
- Korean phone numbers in the usual spellings (010-1234-5678, 010 1234 5678,
  010.1234.5678, 01012345678, +82 10-1234-5678, +82(0)10..., 02-123-4567,
  (031)123-4567, 031)123-4567, 070/050x numbers, full-width digits, and the
  digits spelled out, 공일공-일이삼사-오육칠팔) with "[전화번호]";
- secrets in URLs and headers (?token=..., &signature=..., user:password@host,
  "Bearer ...") with "***", keeping the rest of the URL.

Short service numbers (112, 1388, 109) are not personal and stay. This is a
safety net for logs and for the one-line context sent to a counsellor: code
must still avoid logging message text in the first place (see jikimi.logs).

`RedactingFilter` is the same as a `logging.Filter`; `jikimi.logs.install()`
applies it to every record of a process.
"""

from __future__ import annotations

import logging
import re

# Matching runs on a copy where full-width digits and signs (０-９, ＋, －, （）, ＠, ．)
# are folded to ASCII one for one, so offsets still index the original text.
_FOLD = str.maketrans(
    {
        **{0xFF10 + i: str(i) for i in range(10)},
        0xFF0B: "+",
        0xFF0D: "-",
        0xFF08: "(",
        0xFF09: ")",
        0xFF20: "@",
        0xFF0E: ".",
        0x2212: "-",
        0x30FC: "-",
        **{c: "-" for c in range(0x2010, 0x2016)},
    }
)
# Between digit groups: nothing, or up to three of space, dot, hyphen, parenthesis.
_SEP = r"[\s.\-()]{0,3}"
# Digits spelled out in Sino-Korean, which people use to slip past filters.
_K = "[0-9공영일이삼사오육칠팔구]"

_RRN = re.compile(
    r"(?<![0-9])[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"\s*-?\s*[1-8](?:[0-9]{6}|[*xX]{6})(?![0-9])"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+\s*(?:@|\(at\)|\[at\]|골뱅이)\s*"
    r"[A-Za-z0-9\-]+(?:\s*(?:\.|\(dot\)|\[dot\]|닷|점)\s*[A-Za-z0-9\-]+)+",
    re.IGNORECASE,
)
# Area codes: mobile 010/011/016-019, Seoul 02, regions 031-064, VoIP 070,
# personal safe numbers 050x, free 080; with +82 / 0082 / 82 the leading 0 may go.
_AREA = r"(?:1[016789]|2|[3-6][1-5]|70|50[2-8]|80)"
_PHONE = re.compile(
    rf"(?<![0-9])(?:(?:(?:\+|00)\s*)?8\s*2{_SEP}(?:\(\s*0\s*\)\s*)?0?|\(\s*0|0)"
    rf"{_AREA}{_SEP}[0-9]{{3,4}}{_SEP}[0-9]{{4}}(?![0-9])"
)
_PHONE_SPELLED = re.compile(rf"[0공영][1일][016789공영일육칠팔구]{_SEP}{_K}{{3,4}}{_SEP}{_K}{{4}}")

_SECRET_NAMES = (
    "token|access_token|auth_token|id_token|refresh_token|api_key|apikey|key|secret|"
    "client_secret|password|passwd|pwd|sig|signature|session|sessionid|jwt|code|auth"
)
_URL_SECRET = re.compile(rf"(?i)([?&;](?:{_SECRET_NAMES})=)[^&#\s'\"]+")
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^@\s/]+(@)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=\-]{8,}")

PHONE_MASK = "[전화번호]"
EMAIL_MASK = "[이메일]"
RRN_MASK = "[주민번호]"
SECRET_MASK = "***"


def _mask(pattern: re.Pattern, mask: str, text: str) -> str:
    """Replaces every match of `pattern` in the folded copy of `text` with `mask`."""
    spans = [m.span() for m in pattern.finditer(text.translate(_FOLD))]
    for start, end in reversed(spans):
        text = text[:start] + mask + text[end:]
    return text


def redact(text: str) -> str:
    """`text` with resident numbers, e-mails, phone numbers and URL secrets masked."""
    if not text:
        return text
    for pattern, mask in (
        (_RRN, RRN_MASK),
        (_EMAIL, EMAIL_MASK),
        (_PHONE, PHONE_MASK),
        (_PHONE_SPELLED, PHONE_MASK),
    ):
        text = _mask(pattern, mask, text)
    text = _URL_SECRET.sub(rf"\g<1>{SECRET_MASK}", text)
    text = _URL_PASSWORD.sub(rf"\g<1>{SECRET_MASK}\g<2>", text)
    return _BEARER.sub(rf"\g<1>\g<2>{SECRET_MASK}", text)


class RedactingFilter(logging.Filter):
    """Masks the formatted message (and the traceback) of every record it sees.

    The record's arguments are merged into the message first, so a phone number
    passed as `logger.info("%s", phone)` is masked too. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the record as it is
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
