"""Web widget conversations: ids the server issues, and the signed token that is
the widget's only credential.

Stock Rasa takes the socket.io `session_id` the client chooses as the
conversation id, and any socket that sends an id joins that conversation's
room: whoever held an id could read its replies (a case code, an evidence-log
link) and write into it, and a client could start a new conversation with every
message (a red-team flood made 1,080 in 55 seconds). Here the server issues the
conversation id and a token for it; the socket that presents a valid token is
bound to that conversation, and only that binding decides where its messages go
(bot/channels.py).

- Conversation id: `ws-<address tag>-<random>`. The random part (128 bits) makes
  ids unguessable; the address tag is a keyed hash of the client address the
  conversation was started from (8 characters), so that the counsellor page caps
  (jikimi/handoff.py) can count conversations from one address without ever
  storing the address.
- Token: `<conversation id>.<HMAC-SHA256 of it>`, keyed from JIKIMI_SECRET_KEY's
  hash key (the last key of the list, which never rotates: tokens outlive key
  rotations). The widget keeps it in sessionStorage, nowhere else.

The tag and the MAC are domain-separated from every other use of the key.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from typing import Optional

from jikimi.db.crypto import Keyring

PREFIX = "ws-"
TAG_CHARS = 8
_ID = re.compile(r"ws-([a-z2-7]{8})-([A-Za-z0-9_-]{22})")
_MAC_CHARS = 32


def _b32(digest: bytes, chars: int) -> str:
    return base64.b32encode(digest).decode().lower()[:chars]


class ConversationTokens:
    """Issues and checks widget conversation ids and their tokens."""

    def __init__(self, secret_key: str) -> None:
        self._keyring = Keyring(secret_key)

    def address_tag(self, address: str) -> str:
        digest = self._keyring.digest("jikimi-widget-address\x00" + address)
        return _b32(bytes.fromhex(digest), TAG_CHARS)

    def _mac(self, conversation_id: str) -> str:
        digest = bytes.fromhex(self._keyring.digest("jikimi-widget-token\x00" + conversation_id))
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:_MAC_CHARS]

    def new(self, address: str) -> str:
        """A new conversation id for a client at `address`."""
        return f"{PREFIX}{self.address_tag(address)}-{secrets.token_urlsafe(16)}"

    def token(self, conversation_id: str) -> str:
        return f"{conversation_id}.{self._mac(conversation_id)}"

    def verify(self, token: object) -> Optional[str]:
        """The conversation id of a valid token, else None (anything else: a
        made-up, altered or foreign id, or not a string at all)."""
        if not isinstance(token, str) or len(token) > 100:
            return None
        conversation_id, dot, mac = token.rpartition(".")
        if not dot or not _ID.fullmatch(conversation_id):
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(conversation_id).encode()):
            return None
        return conversation_id


def address_tag_of(conversation_id: Optional[str]) -> Optional[str]:
    """The address tag inside a widget conversation id; None for other channels."""
    match = _ID.fullmatch(conversation_id or "")
    return match.group(1) if match else None
