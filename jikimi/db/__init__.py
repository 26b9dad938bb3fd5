"""Storage: reports, evidence, counsellors, handoffs and the SMS outbox.

SQLAlchemy 1.4 in 2.0 style; SQLite by default, PostgreSQL in production;
schema changes by Alembic (`jikimi db upgrade`). Importing this package does
no work: engines are made on first use from Settings (`get_engine`), sessions
per unit of work (`session_scope`).

Privacy, in short: what people typed and how to reach them is encrypted with
`JIKIMI_SECRET_KEY` (Fernet; rotation in `jikimi.db.crypto`), sender ids and
phone numbers are looked up by keyed hash, files never reach us, and
`delete_conversation_data` / `purge_older_than` forget on request and on
schedule. Each table's choices are in its docstring in `jikimi.db.models`.
"""

from jikimi.db.crypto import (
    DecryptionError,
    EncryptedJSON,
    EncryptedText,
    Keyring,
    keyring_for,
    sender_hash,
)
from jikimi.db.directory import (
    add_counsellor,
    counsellor_by_phone,
    kakao_sender_id,
    kakao_sender_of,
    kakao_user_key,
    on_call_counsellors,
    sms_phone,
    sms_sender_id,
)
from jikimi.db.migrate import schema_diff, upgrade
from jikimi.db.models import (
    ACTIVE_HANDOFF_STATES,
    CODE_PATTERN,
    Base,
    Case,
    Counsellor,
    EvidenceItem,
    Handoff,
    InboundSms,
    KakaoContact,
    OutboxMessage,
    SmsContact,
    new_code,
    utcnow,
)
from jikimi.db.outbox import cancel_queued_to, claim_due, enqueue, mark_failed, mark_sent
from jikimi.db.phone import normalise_phone
from jikimi.db.privacy import delete_conversation_data, purge_older_than, reencrypt_all
from jikimi.db.session import dispose_engines, get_engine, get_sessionmaker, session_scope

__all__ = [
    "ACTIVE_HANDOFF_STATES",
    "CODE_PATTERN",
    "Base",
    "Case",
    "Counsellor",
    "DecryptionError",
    "EncryptedJSON",
    "EncryptedText",
    "EvidenceItem",
    "Handoff",
    "InboundSms",
    "KakaoContact",
    "Keyring",
    "OutboxMessage",
    "SmsContact",
    "add_counsellor",
    "cancel_queued_to",
    "claim_due",
    "counsellor_by_phone",
    "delete_conversation_data",
    "dispose_engines",
    "enqueue",
    "get_engine",
    "get_sessionmaker",
    "kakao_sender_id",
    "kakao_sender_of",
    "kakao_user_key",
    "keyring_for",
    "mark_failed",
    "mark_sent",
    "new_code",
    "normalise_phone",
    "on_call_counsellors",
    "purge_older_than",
    "reencrypt_all",
    "schema_diff",
    "sender_hash",
    "session_scope",
    "sms_phone",
    "sms_sender_id",
    "upgrade",
    "utcnow",
]
