"""Phone numbers in one form (E.164), so one person's number always hashes alike.

Counsellors type their numbers as `010-1234-5678`, Twilio reports senders as
`+821012345678`: both must give the same lookup hash. Only Korean *mobile*
numbers are accepted under +82, because only they receive SMS; a number from
another country is accepted when it is already in E.164 (Twilio's form).
"""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-.()/]")
# 010 + 8 digits; the older 011, 016-019 + 7 or 8 digits. Without the leading 0.
_KOREAN_MOBILE = re.compile(r"1(0\d{8}|[16789]\d{7,8})")
_E164 = re.compile(r"\+[1-9]\d{7,14}")


def normalise_phone(text: str) -> str:
    """`010-1234-5678`, `01012345678`, `+82 10 1234 5678` -> `+821012345678`.

    Raises ValueError, saying what was expected, for anything else.
    """
    # NFKC turns full-width digits (０１０) into ASCII ones.
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))
    if compact.startswith("+82") or compact.startswith("0082"):
        national = compact[3:] if compact.startswith("+") else compact[4:]
        national = national.removeprefix("0")  # "+82 010 ..." is a common slip
    elif compact.startswith("+"):
        if _E164.fullmatch(compact):
            return compact
        raise ValueError(f"{text!r} is not a phone number in international form (+...).")
    elif compact.startswith("0"):
        national = compact[1:]
    else:
        national = None
    if national is None or not _KOREAN_MOBILE.fullmatch(national):
        raise ValueError(
            f"{text!r} is not a Korean mobile number (such as 010-1234-5678 or +82 10 1234 5678)."
        )
    return "+82" + national
