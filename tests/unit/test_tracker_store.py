"""The encrypted tracker store, against real SQLite files and a real PostgreSQL
database (the `db` fixture of test_db.py): trackers round-trip, what is stored
is unreadable without the key, a wrong key stops the store, keys rotate, old
plain rows are encrypted, and a restart forgets what came before it."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Iterator, List

import pytest
from cryptography.fernet import Fernet
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config
from sqlalchemy import create_engine, text

from bot.tracker_store import (
    EncryptedSQLTrackerStore,
    delete_tracker,
    reencrypt_trackers,
    sender_key,
)
from jikimi.db import DecryptionError, Keyring
from tests.unit.test_db import Db

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, report_incident]
slots:
  report_description:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "안녕하세요"}]
"""
)
TEXT = "제 얼굴 합성 사진이 돌아요 QZ9-SECRET-TEXT"
LINK = "https://t.me/qz9_secret_room/7"
PHONE = "010-9876-5432"
SLOT = "설명 QZ9-SECRET-SLOT"
# Long enough that no hash or Fernet token contains one by chance.
SECRETS = (TEXT, LINK, PHONE, SLOT, "QZ9-SECRET-TEXT", "QZ9-SECRET-SLOT", "qz9_secret_room")


def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def tracker_db(db: Db) -> Iterator[Db]:
    """`db` with no `events` table (the PostgreSQL database is shared by the run)."""
    drop_events(db.url)
    yield db
    drop_events(db.url)


def drop_events(url: str) -> None:
    engine = create_engine(url, future=True)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS events"))
    finally:
        engine.dispose()


def store_for(db: Db, secret_key: str) -> EncryptedSQLTrackerStore:
    return EncryptedSQLTrackerStore(domain=DOMAIN, host=db.url, secret_key=secret_key)


def conversation(sender: str) -> DialogueStateTracker:
    events: List[Event] = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered(f"{TEXT} {LINK} {PHONE}", {"name": "report_incident", "confidence": 0.9}),
        SlotSet("report_description", SLOT),
        BotUttered("고마워요. 당신 잘못이 아니에요."),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


def rows(db: Db) -> List[dict]:
    with db.raw() as connection:
        result = connection.execute(
            text(
                "SELECT id, sender_id, type_name, timestamp, intent_name, action_name, data "
                "FROM events ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in result]


def raw_bytes(db: Db) -> bytes:
    """The SQLite file (with journal and WAL, if any) as someone holding it reads it."""
    data = db.path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = db.path.with_name(db.path.name + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def assert_unreadable(db: Db) -> None:
    stored = json.dumps(rows(db), default=str, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in stored
    if db.path is not None:
        data = raw_bytes(db)
        for secret in SECRETS:
            assert secret.encode() not in data, secret
            assert json.dumps(secret).encode() not in data, secret  # Rasa's \\u escapes


def texts(tracker: DialogueStateTracker) -> List[str]:
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))]


def run(coroutine):
    return asyncio.run(coroutine)


# --- round trip --------------------------------------------------------------------------


def test_trackers_round_trip_and_only_new_events_are_appended(tracker_db):
    key = fernet_key()
    store = store_for(tracker_db, key)
    sender = "web-" + secrets.token_hex(4)
    tracker = conversation(sender)
    run(store.save(tracker))
    assert len(rows(tracker_db)) == len(tracker.events)

    back = run(store.retrieve(sender))
    run(store.save(back))  # nothing new: nothing written
    assert len(rows(tracker_db)) == len(tracker.events)
    # A tracker the store did not load (Rasa's HTTP API makes such): the
    # stored events are counted, not written again.
    events = [event.as_dict() for event in back.events]
    run(store.save(DialogueStateTracker.from_dict(sender, events, DOMAIN.slots)))
    assert len(rows(tracker_db)) == len(tracker.events)
    assert back.current_state() == tracker.current_state()
    assert texts(back) == texts(tracker)
    assert back.get_slot("report_description") == SLOT

    back.update(UserUttered("두 번째 메시지", {"name": "greet", "confidence": 1.0}))
    run(store.save(back))
    assert len(rows(tracker_db)) == len(tracker.events) + 1
    assert texts(run(store.retrieve(sender)))[-1] == "두 번째 메시지"

    # A second session: retrieve gives the latest, retrieve_full_tracker all of it.
    later = run(store.retrieve(sender))
    start = later.events[-1].timestamp + 10
    later.update(SessionStarted(timestamp=start))
    later.update(UserUttered("새 세션", {"name": "greet", "confidence": 1.0}, timestamp=start))
    run(store.save(later))
    assert texts(run(store.retrieve(sender))) == ["새 세션"]
    assert texts(run(store.retrieve_full_tracker(sender)))[0].startswith(TEXT)

    other = "sms-" + secrets.token_hex(4)
    run(store.save(conversation(other)))
    assert sorted(run(store.keys())) == sorted([sender, other])
    assert run(store.retrieve("nobody")) is None
    store.engine.dispose()


def test_nothing_typed_is_readable_in_the_database(tracker_db):
    key = fernet_key()
    store = store_for(tracker_db, key)
    sender = f"rest-{PHONE}"  # an integration may well use a phone number as sender id
    tracker = conversation(sender)
    # A "/intent" message naming no domain intent: Rasa keeps the name the user typed.
    tracker.update(UserUttered("/QZ9_made_up", {"name": "QZ9_made_up", "confidence": 1.0}))
    tracker.update(SlotSet("QZ9_not_a_slot", "x"))
    run(store.save(tracker))
    stored = rows(tracker_db)
    assert len(stored) == len(tracker.events)
    assert_unreadable(tracker_db)

    keyring = Keyring(key)
    assert {row["sender_id"] for row in stored} == {sender_key(keyring, sender)}
    assert all(row["data"].startswith("gAAAAA") for row in stored)  # Fernet tokens
    # What Rasa queries by, and names the domain declares, stay plain.
    types = [row["type_name"] for row in stored]
    assert types[:4] == ["action", "session_started", "action", "user"]
    assert all(isinstance(row["timestamp"], float) for row in stored)
    assert [row["intent_name"] for row in stored if row["type_name"] == "user"] == [
        "report_incident",
        None,
    ]
    assert [row["action_name"] for row in stored if row["type_name"] == "slot"] == [
        "report_description",
        None,
    ]
    # The sender hash is not the one our own tables use for the same conversation.
    assert sender_key(keyring, sender) != keyring.digest(sender)
    store.engine.dispose()


# --- keys ----------------------------------------------------------------------------------


def test_a_wrong_key_stops_the_store_with_a_clear_message(tracker_db):
    store = store_for(tracker_db, fernet_key())
    run(store.save(conversation("web-1")))
    store.engine.dispose()
    with pytest.raises(DecryptionError, match="do not decrypt with JIKIMI_SECRET_KEY"):
        store_for(tracker_db, fernet_key())


def test_rows_moved_to_another_conversation_are_refused(tracker_db):
    key = fernet_key()
    store = store_for(tracker_db, key)
    run(store.save(conversation("victim")))
    run(store.save(conversation("attacker")))
    keyring = Keyring(key)
    with tracker_db.raw() as connection:
        connection.execute(
            text("UPDATE events SET sender_id = :to WHERE sender_id = :from"),
            {"to": sender_key(keyring, "victim"), "from": sender_key(keyring, "attacker")},
        )
    with pytest.raises(DecryptionError, match="another conversation"):
        run(store.retrieve("victim"))
    store.engine.dispose()


def test_keys_rotate(tracker_db):
    old, new = fernet_key(), fernet_key()
    store = store_for(tracker_db, old)
    run(store.save(conversation("web-rotate")))
    store.engine.dispose()

    # A new key in front: everything still reads, and new rows use the new key.
    rotated = f"{new},{old}"
    store = store_for(tracker_db, rotated)
    tracker = run(store.retrieve("web-rotate"))
    assert texts(tracker) == texts(conversation("web-rotate"))
    tracker.update(UserUttered("새 키로 저장", {"name": "greet", "confidence": 1.0}))
    run(store.save(tracker))
    store.engine.dispose()
    before = rows(tracker_db)

    assert reencrypt_trackers(tracker_db.url, rotated) == len(before)
    after = rows(tracker_db)
    assert [row["id"] for row in after] == [row["id"] for row in before]
    assert all(a["data"] != b["data"] for a, b in zip(after, before, strict=True))
    for row in after:  # the old key is no longer needed to read anything...
        json.loads(Fernet(new.encode()).decrypt(row["data"].encode()))
    assert_unreadable(tracker_db)

    # ...so a key between the first and the last can go; the last one keys the
    # sender hashes and stays (jikimi.db.crypto).
    third = fernet_key()
    assert reencrypt_trackers(tracker_db.url, f"{third},{new},{old}") == len(after)
    store = store_for(tracker_db, f"{third},{old}")
    assert texts(run(store.retrieve("web-rotate")))[-1] == "새 키로 저장"
    store.engine.dispose()


def test_events_a_plain_sql_tracker_store_left_are_encrypted_on_start(tracker_db):
    plain = SQLTrackerStore(domain=DOMAIN, host=tracker_db.url)
    run(plain.save(conversation("web-legacy")))
    plain.engine.dispose()
    assert any(TEXT in json.loads(row["data"]).get("text", "") for row in rows(tracker_db))

    key = fernet_key()
    store = store_for(tracker_db, key)
    assert texts(run(store.retrieve("web-legacy"))) == texts(conversation("web-legacy"))
    assert_unreadable(tracker_db)  # on SQLite: the old text is not left in free pages
    store.engine.dispose()
    assert reencrypt_trackers(tracker_db.url, key) == len(conversation("web-legacy").events)


# --- forgetting ----------------------------------------------------------------------------


def test_a_restart_forgets_everything_before_it(tracker_db):
    store = store_for(tracker_db, fernet_key())
    sender = "web-forget"
    run(store.save(conversation(sender)))
    tracker = run(store.retrieve(sender))
    # What the bot's "delete my data" does in one turn: the action, its reply,
    # a restart; Rasa then saves the tracker (sometimes twice in a turn).
    tracker.update(UserUttered("/affirm", {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_delete_my_data"))
    tracker.update(BotUttered("지웠어요."))
    tracker.update(Restarted())
    tracker.update(ActionExecuted("action_listen"))
    run(store.save(tracker))
    run(store.save(tracker))
    assert [row["type_name"] for row in rows(tracker_db)] == ["restart", "action"]
    assert_unreadable(tracker_db)

    back = run(store.retrieve(sender))
    assert texts(back) == []
    back.update(UserUttered("다시 안녕", {"name": "greet", "confidence": 1.0}))
    run(store.save(back))
    assert texts(run(store.retrieve(sender))) == ["다시 안녕"]
    assert len(rows(tracker_db)) == 3
    store.engine.dispose()


def test_delete_tracker_erases_one_conversation(tracker_db):
    key = fernet_key()
    store = store_for(tracker_db, key)
    run(store.save(conversation("web-a")))
    run(store.save(conversation("web-b")))
    events = len(conversation("web-a").events)
    assert delete_tracker(tracker_db.url, key, "web-a") == events
    assert run(store.retrieve("web-a")) is None
    assert run(store.retrieve("web-b")) is not None
    assert delete_tracker(tracker_db.url, key, "web-a") == 0
    store.engine.dispose()


# --- how Rasa loads it -----------------------------------------------------------------------


def test_rasa_builds_it_from_the_endpoints_file_we_write(tracker_db, tmp_path, monkeypatch):
    from jikimi.cli import write_endpoints
    from jikimi.settings import load_settings

    key = fernet_key()
    monkeypatch.setenv("JIKIMI_SECRET_KEY", key)  # the store reads it from the settings
    settings = load_settings(
        environ={"JIKIMI_TRACKER_STORE_URL": tracker_db.url, "JIKIMI_SECRET_KEY": key},
        root=tmp_path,
    )
    path = write_endpoints(settings)
    assert key not in path.read_text()
    store = TrackerStore.create(read_endpoint_config(str(path), "tracker_store"), DOMAIN)
    assert isinstance(store, EncryptedSQLTrackerStore)
    run(store.save(conversation("web-endpoints")))
    assert rows(tracker_db)[0]["sender_id"] == sender_key(Keyring(key), "web-endpoints")
    store.engine.dispose()


def test_a_store_that_cannot_load_fails_instead_of_keeping_conversations_in_memory():
    # Rasa replaces a custom store that raises ImportError with an in-memory one.
    config = EndpointConfig(
        url="mysql://nobody@127.0.0.1:1/none",
        type="bot.tracker_store.EncryptedSQLTrackerStore",
        secret_key=fernet_key(),
    )
    with pytest.raises(RuntimeError, match="encrypted tracker store could not start"):
        TrackerStore.create(config, DOMAIN)


def test_cli_reencrypt_rewrites_tables_and_conversations(tracker_db, monkeypatch, capsys):
    from jikimi.cli import main

    key = tracker_db.settings.secret_key
    store = store_for(tracker_db, key)
    run(store.save(conversation("web-cli")))
    store.engine.dispose()
    before = rows(tracker_db)
    rotated = f"{fernet_key()},{key}"
    monkeypatch.setenv("JIKIMI_DATABASE_URL", tracker_db.url)
    monkeypatch.setenv("JIKIMI_SECRET_KEY", rotated)
    monkeypatch.setenv("RASA_TOKEN", "t")
    assert main(["db", "reencrypt"]) == 0
    assert f"{len(before)} conversation events" in capsys.readouterr().out
    assert all(a["data"] != b["data"] for a, b in zip(rows(tracker_db), before, strict=True))
