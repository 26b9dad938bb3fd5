"""Rasa's SQL tracker store, encrypted at rest with `JIKIMI_SECRET_KEY`.

Rasa's `SQLTrackerStore` keeps every event as plain JSON in the table `events`:
every message a student typed, every link, every slot the report form filled.
`EncryptedSQLTrackerStore` keeps the same table and the same queries, but what
is stored in each column is:

- `data`: a Fernet token (the keys of `jikimi.db.crypto.Keyring`) of
  `{"sender_id": ..., "event": <the event as Rasa serialises it>}`. Reading a
  row checks that it belongs to the conversation asked for, so rows moved
  between conversations in the database are refused, not shown.
- `sender_id`: a keyed hash of the conversation id, so that a REST sender id
  (which an integration may make from a phone number) or a widget session id
  says nothing, and lookups still use the index. The hash is domain-separated
  from `jikimi.db.sender_hash`: without the key, nobody can join a tracker to a
  case row. The id itself is inside `data`, which is how `keys()` still works.
- `type_name`, `timestamp`: plain, because Rasa's own query needs them (latest
  session start); they say what kind of event happened when, never what was said.
- `intent_name`, `action_name`: plain when the name is one the domain declares
  (an intent, action, slot or form); NULL otherwise, so that nothing a user can
  type (a "/made_up_intent" message, an API-injected event) lands in clear.

Keys rotate as for our tables (`jikimi.db.crypto`): put a new key first in
`JIKIMI_SECRET_KEY`, restart, run `jikimi db reencrypt` (here:
`reencrypt_trackers`), then drop old keys from the middle of the list; the
last key stays, because it keys the sender hashes.

A `Restarted` event (the bot's "delete my data", or "/restart") means the
conversation before it no longer counts: when one is saved, every stored row
of the conversation is deleted and only the events from the restart on are
kept. Deleting rows from the action server alone would not do: Rasa saves its
in-memory tracker after the action and would write them back.

The key is read from the settings (`load_settings()`) when the endpoints file
does not name one: the endpoints file is written to disk, the key need not be.
The store refuses to start when the newest stored event does not decrypt (a
wrong or missing key), rather than greet every student as a stranger.
Events a plain `SQLTrackerStore` left behind are encrypted when it starts.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Set, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, Restarted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.install import check_rasa_version
from jikimi.db.crypto import DecryptionError, Keyring
from jikimi.db.session import create_plain_engine, private_sqlite_file
from jikimi.settings import load_settings

logger = logging.getLogger(__name__)

TABLE = "events"
# Plain JSON as Rasa's SQLTrackerStore writes it; a Fernet token never starts so.
_PLAIN_PREFIX = "{"
_BATCH = 500
# Set on a tracker this store loaded or saved: how many of its events are stored.
_STORED_ATTRIBUTE = "_jikimi_events_stored"


def sender_key(keyring: Keyring, sender_id: Text) -> Text:
    """How a conversation id is stored in `events.sender_id`."""
    return keyring.digest("rasa-tracker\x00" + sender_id)


def _seal(keyring: Keyring, sender_id: Text, event: Dict[Text, Any]) -> Text:
    return keyring.encrypt(json.dumps({"sender_id": sender_id, "event": event}))


def _open(keyring: Keyring, data: Text) -> Dict[Text, Any]:
    """The decrypted `{"sender_id", "event"}` of a row; DecryptionError if it is not ours."""
    if data is None or data.startswith(_PLAIN_PREFIX):
        raise DecryptionError("A tracker event is stored unencrypted.")
    try:
        payload = json.loads(keyring.decrypt(data))
    except UnicodeEncodeError:
        raise DecryptionError("A tracker event is not a Fernet token.") from None
    if not isinstance(payload, dict) or "event" not in payload or "sender_id" not in payload:
        raise DecryptionError("A tracker event decrypts, but not to what this store writes.")
    return payload


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with event data encrypted and sender ids hashed (see module).

    Named in the endpoints file as
    `tracker_store: {type: bot.tracker_store.EncryptedSQLTrackerStore, url: <SQLAlchemy URL>}`;
    `secret_key` may be given there too, else `JIKIMI_SECRET_KEY` (settings) is used.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[Any] = None,
        secret_key: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        # Rasa loads a custom store by module path and falls back to an
        # in-memory store, with only a warning, on AttributeError or
        # ImportError (a missing database driver, say). Conversations would then
        # silently vanish on restart: fail instead.
        check_rasa_version()  # it overrides Rasa 3.6's private `_retrieve`
        try:
            if secret_key is None:
                secret_key = load_settings().secret_key
            self._keyring = Keyring(secret_key)
            if host:
                private_sqlite_file(host)  # 0600, as our own engines make it
            super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
            if self.engine.dialect.name != "sqlite":
                # Connections are checked before use: after the database was
                # down and back, Rasa's pool would hand out dead ones and the
                # first message would fail.
                from rasa.core.tracker_store import create_engine_kwargs

                url = self.engine.url
                self.engine.dispose()
                self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
                self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
                self.engine.dispose()  # connections made so far lack the pragmas
            encrypted = encrypt_plain_events(self.engine, self._keyring)
            if encrypted:
                logger.info(f"Encrypted {encrypted} tracker events stored in plain text.")
            check_key(self.engine, self._keyring)
        except (AttributeError, ImportError) as error:
            raise RuntimeError(f"The encrypted tracker store could not start: {error}") from error

    def sender_key(self, sender_id: Text) -> Text:
        return sender_key(self._keyring, sender_id)

    def _known_names(self) -> Set[Text]:
        """Names the domain declares: safe to keep in clear in intent/action columns."""
        domain = self.domain
        names = set(domain.action_names_or_texts) - set(domain.action_texts)
        names.update(domain.intents, domain.form_names, (slot.name for slot in domain.slots))
        return names

    def _row(self, key: Text, sender_id: Text, event: Event, known: Set[Text]) -> Dict:
        data = event.as_dict()
        intent = ((data.get("parse_data") or {}).get("intent") or {}).get(INTENT_NAME_KEY)
        action = data.get("name")
        return {
            "sender_id": key,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": intent if intent in known else None,
            "action_name": action if action in known else None,
            "data": _seal(self._keyring, sender_id, data),
        }

    def _events_query(self, key: Text, all_sessions: bool) -> sa.sql.Select:
        """Rasa's `_event_query` in SQLAlchemy Core: the `data` of a conversation's
        events (of its latest session unless `all_sessions`), in order. Core
        rather than the ORM: a third of the store's time went to building ORM
        queries and objects (README "Speed under load")."""
        table = self.SQLEvent.__table__
        query = sa.select(table.c.data).where(table.c.sender_id == key)
        if not all_sessions:
            session_start = (
                sa.select(sa.func.max(table.c.timestamp))
                .where(table.c.sender_id == key, table.c.type_name == SessionStarted.type_name)
                .scalar_subquery()
            )
            query = query.where(sa.or_(table.c.timestamp >= session_start, session_start.is_(None)))
        return query.order_by(table.c.id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the events not stored yet; after a `Restarted`, replaces them all."""
        await self.stream_events(tracker)
        key = self.sender_key(tracker.sender_id)
        events = list(tracker.events)
        restart = max(
            (i for i, event in enumerate(events) if isinstance(event, Restarted)), default=0
        )
        table = self.SQLEvent.__table__
        with self.engine.begin() as connection:
            if restart > 0:
                # Events before the restart are in memory only now; whether this
                # is the first save since the restart or not, the stored rows
                # become exactly the events from the restart on.
                connection.execute(table.delete().where(table.c.sender_id == key))
                new = events[restart:]
            else:
                # How many of this tracker's events are stored: known when this
                # store loaded or saved this very tracker (the lock store keeps
                # one conversation to one process at a time), else counted.
                stored = getattr(tracker, _STORED_ATTRIBUTE, None)
                if stored is None or stored > len(events):
                    counted = sa.select(sa.func.count()).select_from(
                        self._events_query(key, all_sessions=False).subquery()
                    )
                    stored = connection.execute(counted).scalar()
                new = events[stored:]
            if new:
                known = self._known_names()
                connection.execute(
                    table.insert(), [self._row(key, tracker.sender_id, e, known) for e in new]
                )
        if restart == 0:
            setattr(tracker, _STORED_ATTRIBUTE, len(events))
        logger.debug("Tracker stored (encrypted).")

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        query = self._events_query(self.sender_key(sender_id), fetch_events_from_all_sessions)
        with self.engine.connect() as connection:
            rows = connection.execute(query).scalars().all()
        events = []
        for data in rows:
            payload = _open(self._keyring, data)
            if payload["sender_id"] != sender_id:
                raise DecryptionError("A tracker event row belongs to another conversation.")
            events.append(payload["event"])
        if self.domain and events:
            tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
            if not fetch_events_from_all_sessions:
                setattr(tracker, _STORED_ATTRIBUTE, len(rows))
            return tracker
        return None

    async def keys(self) -> Iterable[Text]:
        """The conversation ids, read from the encrypted rows (one per conversation)."""
        with self.session_scope() as session:
            first = sa.select(sa.func.min(self.SQLEvent.id)).group_by(self.SQLEvent.sender_id)
            rows = session.query(self.SQLEvent.data).filter(self.SQLEvent.id.in_(first))
            return [_open(self._keyring, data)["sender_id"] for (data,) in rows]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Deleted and overwritten rows are zeroed in the file, not left in free pages:
    # "delete my data" and the encryption of old plain rows really remove the text.
    cursor.execute("PRAGMA secure_delete = ON")
    # The action server and the desk write the same file: wait for them, do not fail.
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def _engine(url: Text) -> sa.engine.Engine:
    """An engine for maintenance (rotation, erasure, purge) with the store's SQLite pragmas."""
    engine = create_plain_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _events_table(engine: sa.engine.Engine) -> Optional[sa.Table]:
    if not sa.inspect(engine).has_table(TABLE):
        return None
    return SQLTrackerStore.SQLEvent.__table__


def encrypt_plain_events(engine: sa.engine.Engine, keyring: Keyring) -> int:
    """Encrypts (and hashes the sender of) every event a plain SQLTrackerStore wrote.

    Each row is rewritten only if it is still the plain row read (compare and
    set), so several Rasa instances starting at once never hash a hash.
    """
    table = _events_table(engine)
    if table is None:
        return 0
    done = 0
    last_id = 0
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                sa.select(table.c.id, table.c.sender_id, table.c.data)
                .where(table.c.data.like(_PLAIN_PREFIX + "%"), table.c.id > last_id)
                .order_by(table.c.id)
                .limit(_BATCH)
            ).fetchall()
            for row_id, sender_id, data in rows:
                result = connection.execute(
                    table.update()
                    .where(table.c.id == row_id, table.c.data == data)
                    .values(
                        sender_id=sender_key(keyring, sender_id),
                        data=_seal(keyring, sender_id, json.loads(data)),
                    )
                )
                done += result.rowcount
        if len(rows) < _BATCH:
            return done
        last_id = rows[-1][0]


def check_key(engine: sa.engine.Engine, keyring: Keyring) -> None:
    """Raises DecryptionError, saying what to do, unless the newest event decrypts."""
    table = _events_table(engine)
    if table is None:
        return
    with engine.connect() as connection:
        data = connection.execute(
            sa.select(table.c.data).order_by(table.c.id.desc()).limit(1)
        ).scalar()
    if data is None:
        return
    try:
        _open(keyring, data)
    except DecryptionError:
        raise DecryptionError(
            "The conversations in the tracker store do not decrypt with JIKIMI_SECRET_KEY. "
            "Set the key they were written with (after a rotation, keep the old key in the "
            "comma-separated list until `jikimi db reencrypt` has run)."
        ) from None


def reencrypt_trackers(tracker_store_url: Text, secret_key: Text) -> int:
    """Rewrites every stored event with the first key of `secret_key` (after a new
    key was put in front) and encrypts any plain ones; returns rows rewritten.

    Safe while Rasa runs: rows are only appended or deleted by Rasa, and each
    rewrite checks that the row is unchanged since it was read.
    """
    keyring = Keyring(secret_key)
    engine = _engine(tracker_store_url)
    try:
        done = encrypt_plain_events(engine, keyring)
        table = _events_table(engine)
        if table is None:
            return done
        last_id = 0
        while True:
            with engine.begin() as connection:
                rows = connection.execute(
                    sa.select(table.c.id, table.c.data)
                    .where(table.c.id > last_id)
                    .order_by(table.c.id)
                    .limit(_BATCH)
                ).fetchall()
                for row_id, data in rows:
                    payload = _open(keyring, data)
                    fresh = _seal(keyring, payload["sender_id"], payload["event"])
                    result = connection.execute(
                        table.update()
                        .where(table.c.id == row_id, table.c.data == data)
                        .values(data=fresh)
                    )
                    done += result.rowcount
            if len(rows) < _BATCH:
                return done
            last_id = rows[-1][0]
    finally:
        engine.dispose()


def purge_trackers(tracker_store_url: Text, cutoff: datetime) -> int:
    """Deletes every conversation whose last event is older than `cutoff` (`jikimi
    purge`); returns the number of event rows deleted.

    A conversation is deleted whole: deleting only its old events would leave a
    tracker that starts in the middle (no session start, slots set by events
    that are gone), and one still in use keeps all its events. Only the columns
    every SQLTrackerStore has are read (sender_id, timestamp as Unix seconds), so
    rows a plain store left are purged the same way. The engine is the store's
    (`_engine`): on SQLite the purged rows are zeroed in the file too.
    """
    engine = _engine(tracker_store_url)
    try:
        table = _events_table(engine)
        if table is None:
            return 0  # Rasa has not run against this database yet
        finished = (
            sa.select(table.c.sender_id)
            .group_by(table.c.sender_id)
            .having(sa.func.max(table.c.timestamp) < cutoff.timestamp())
        )
        with engine.begin() as connection:
            result = connection.execute(table.delete().where(table.c.sender_id.in_(finished)))
            return result.rowcount
    finally:
        engine.dispose()


def delete_tracker(tracker_store_url: Text, secret_key: Text, sender_id: Text) -> int:
    """Deletes a conversation's stored events (an operator's erasure request);
    returns the number of rows. From inside a conversation use a `Restarted`
    event instead: Rasa would write its in-memory events back after the action.
    """
    engine = _engine(tracker_store_url)
    try:
        table = _events_table(engine)
        if table is None:
            return 0
        with engine.begin() as connection:
            result = connection.execute(
                table.delete().where(
                    table.c.sender_id == sender_key(Keyring(secret_key), sender_id)
                )
            )
            return result.rowcount
    finally:
        engine.dispose()


__all__: List[Text] = [
    "EncryptedSQLTrackerStore",
    "check_key",
    "delete_tracker",
    "encrypt_plain_events",
    "purge_trackers",
    "reencrypt_trackers",
    "sender_key",
]
