"""Encryption at rest and keyed hashes, from `JIKIMI_SECRET_KEY`.

`JIKIMI_SECRET_KEY` is one Fernet key, or several separated by commas, newest
first. The first key encrypts; every key decrypts (cryptography's MultiFernet),
so a key is rotated by putting a new one in front, running
`jikimi.db.reencrypt_all`, and then dropping old keys from the middle of the
list.

The *last* key also keys the lookup hashes (HMAC-SHA256 of sender ids and phone
numbers). A hash cannot be recomputed without the original value, and for
sender ids we never keep it, so the last key stays at the end of the list for
as long as the hashed rows live. It then decrypts as well: retiring it for
encryption alone is not possible; that is the price of one setting.

The key belongs to an engine, not to a module: `bind_keyring` records it for
the engine's dialect, which is the one thing SQLAlchemy hands a TypeDecorator.
Nothing here reads settings or the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import weakref
from typing import Any, List, Optional

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator


class DecryptionError(Exception):
    """A stored value does not decrypt with any configured key."""


class Keyring:
    """The Fernet keys of `JIKIMI_SECRET_KEY` and the lookup-hash key."""

    def __init__(self, secret_key: str) -> None:
        keys = [part.strip() for part in secret_key.split(",") if part.strip()]
        if not keys:
            raise ValueError("JIKIMI_SECRET_KEY is empty.")
        try:
            fernets = [Fernet(key.encode()) for key in keys]
        except ValueError:
            raise ValueError(
                "JIKIMI_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), "
                "comma-separated, newest first."
            ) from None
        self._fernet = MultiFernet(fernets)
        # A key of its own for hashing, derived so that a hash never reveals
        # anything about the encryption key.
        self._hash_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"jikimi lookup hash"
        ).derive(keys[-1].encode())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, ttl: Optional[int] = None) -> str:
        """The plaintext; DecryptionError if no key opens it (or, with `ttl`,
        when it was made more than `ttl` seconds ago)."""
        try:
            return self._fernet.decrypt(token.encode("ascii"), ttl=ttl).decode("utf-8")
        except InvalidToken:
            raise DecryptionError(
                "A stored value does not decrypt: is JIKIMI_SECRET_KEY the key it was "
                "written with (or does the list still contain it)?"
            ) from None

    def digest(self, value: str) -> str:
        """HMAC-SHA256 hex: equal inputs match, but the input cannot be recovered."""
        return hmac.new(self._hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


_KEYRINGS: "weakref.WeakKeyDictionary[Dialect, Keyring]" = weakref.WeakKeyDictionary()


def bind_keyring(engine: Engine, keyring: Keyring) -> None:
    """Makes `keyring` the one that encrypts and decrypts on this engine."""
    _KEYRINGS[engine.dialect] = keyring


def keyring_of_dialect(dialect: Dialect) -> Keyring:
    try:
        return _KEYRINGS[dialect]
    except KeyError:
        raise RuntimeError(
            "This engine has no key: create it with jikimi.db.get_engine(settings)."
        ) from None


def keyring_for(session: Session) -> Keyring:
    """The keyring of the engine this session is bound to."""
    return keyring_of_dialect(session.get_bind().dialect)


def sender_hash(session: Session, sender_id: str) -> str:
    """How a conversation's sender id is stored and looked up."""
    return keyring_for(session).digest(sender_id)


class EncryptedText(TypeDecorator):
    """Text stored as a Fernet token: plaintext in Python, ciphertext in the row.

    Fernet tokens are randomised, so an encrypted column cannot be searched or
    compared in SQL; store a `Keyring.digest` beside it when lookups are needed.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"EncryptedText stores str, not {type(value).__name__}.")
        return keyring_of_dialect(dialect).encrypt(value)

    def process_result_value(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        if value is None:
            return None
        return keyring_of_dialect(dialect).decrypt(value)


class EncryptedJSON(EncryptedText):
    """A JSON value (here: lists of links) encrypted as one token."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Optional[str]:
        if value is None:
            return None
        return super().process_bind_param(json.dumps(value, ensure_ascii=False), dialect)

    def process_result_value(self, value: Optional[str], dialect: Dialect) -> Any:
        text = super().process_result_value(value, dialect)
        return None if text is None else json.loads(text)


__all__: List[str] = [
    "DecryptionError",
    "EncryptedJSON",
    "EncryptedText",
    "Keyring",
    "bind_keyring",
    "keyring_for",
    "sender_hash",
]
