"""The conversation itself, as the real Rasa server stores it: a message typed over
the REST channel can be read back through Rasa (the tracker store decrypts it)
but not from the SQLite file (journal and WAL included)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.tracker_store import sender_key
from jikimi.db import Keyring

# Distinctive, so that finding any piece of it in the file means plain text.
PIECES = ("보라색고양이가", "qz8canary", "010-2468-1357", "t.me/qz8canary_room")
MESSAGE = "안녕하세요 " + " ".join(PIECES)


def database_bytes(database_url: str) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    data = path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def test_a_message_is_stored_encrypted_and_still_remembered(stack):
    sender = "e2e-tracker-" + secrets.token_hex(4)
    assert stack.say(sender, MESSAGE), "the bot answered nothing"
    assert stack.say(sender, "고마워요")

    # Rasa reads the conversation back from the store: the key works.
    tracker = stack.tracker(sender)
    said = [event.get("text") for event in tracker["events"] if event["event"] == "user"]
    assert said == [MESSAGE, "고마워요"]

    # The events are in the database under the keyed hash, so our store is the
    # one Rasa uses (a store that fails to load would leave conversations in memory).
    key = sender_key(Keyring(stack.settings.secret_key), sender)
    engine = create_engine(stack.database_url, future=True)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT type_name, data FROM events WHERE sender_id = :key"), {"key": key}
            ).all()
            plain = connection.execute(
                text("SELECT COUNT(*) FROM events WHERE sender_id = :sender"), {"sender": sender}
            ).scalar_one()
    finally:
        engine.dispose()
    assert [t for t, _ in stored].count("user") == 2
    assert plain == 0 and all(data.startswith("gAAAAA") for _, data in stored)

    data = database_bytes(stack.database_url)
    for piece in PIECES:
        assert piece.encode() not in data, f"{piece!r} is readable in the database file"
        escaped = json.dumps(piece)[1:-1].encode()  # as Rasa's JSON writes Korean
        assert escaped not in data, f"{piece!r} is readable (JSON-escaped) in the database file"
    assert sender.encode() not in data


def test_deleting_my_data_deletes_the_stored_conversation(stack):
    """The bot's "delete my data" ends in a Restarted event; the store then keeps
    nothing of what came before it, not even encrypted."""
    sender = "e2e-tracker-delete-" + secrets.token_hex(4)
    stack.say(sender, MESSAGE)
    assert "지울까요" in " ".join(r.get("text", "") for r in stack.say(sender, "내 기록 다 지워줘"))
    assert "지웠어요" in " ".join(r.get("text", "") for r in stack.say(sender, "/affirm"))

    key = sender_key(Keyring(stack.settings.secret_key), sender)
    engine = create_engine(stack.database_url, future=True)
    try:
        with engine.connect() as connection:
            types = (
                connection.execute(
                    text("SELECT type_name FROM events WHERE sender_id = :key ORDER BY id"),
                    {"key": key},
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert types and types[0] == "restart", types
    assert "user" not in types

    everything = stack.tracker(sender, include_events="ALL")
    assert MESSAGE not in json.dumps(everything, ensure_ascii=False)
