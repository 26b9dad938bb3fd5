"""Issue 15 pieces tested alone: widget conversation tokens (jikimi/sessions.py),
the tracker store that fails loudly (bot/outage.py), the sealed socket.io queue
(jikimi/socketio_queue.py), the lock store without Redis (bot/lock_store.py),
warnings through the log redaction (jikimi/logs.py), private SQLite files and
the Redis settings in Rasa's endpoints."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import stat
import time

import pytest
from cryptography.fernet import Fernet

from jikimi.sessions import ConversationTokens, address_tag_of

KEY = Fernet.generate_key().decode()


# --- widget conversation tokens --------------------------------------------------


def test_a_token_names_its_conversation_and_nothing_else_passes():
    tokens = ConversationTokens(KEY)
    conversation = tokens.new("203.0.113.9")
    token = tokens.token(conversation)
    assert tokens.verify(token) == conversation
    assert address_tag_of(conversation) == tokens.address_tag("203.0.113.9")
    assert "203.0.113.9" not in token
    for forged in (
        conversation,
        conversation + ".",
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        ConversationTokens(Fernet.generate_key().decode()).token(conversation),
        "ws-aaaaaaaa-" + "x" * 22 + "." + token.rsplit(".", 1)[1],
        None,
        42,
        "x" * 500,
    ):
        assert tokens.verify(forged) is None, forged
    assert tokens.new("203.0.113.9") != conversation, "ids are random"
    assert address_tag_of("sms-123") is None


def test_tokens_outlive_a_key_rotation():
    old = ConversationTokens(KEY)
    token = old.token(old.new("198.51.100.1"))
    rotated = ConversationTokens(Fernet.generate_key().decode() + "," + KEY)
    assert rotated.verify(token) == token.rsplit(".", 1)[0]


# --- no silent in-memory tracker store ---------------------------------------------


async def test_a_failing_tracker_store_raises_instead_of_forgetting():
    from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot import outage

    class Broken(InMemoryTrackerStore):
        async def retrieve(self, sender_id):
            raise ConnectionError("database down")

        async def save(self, tracker):
            raise ConnectionError("database down")

    class Agent:
        tracker_store = FailSafeTrackerStore(Broken(Domain.empty()))

    agent = Agent()
    assert await agent.tracker_store.retrieve("s") is None, "Rasa's own: a stranger"
    assert outage.install(agent)
    with pytest.raises(outage.StorageUnavailable):
        await agent.tracker_store.retrieve("s")
    with pytest.raises(outage.StorageUnavailable):
        await agent.tracker_store.save(DialogueStateTracker("s", []))
    assert not outage.install(object())


async def test_the_outage_answer_gives_the_crisis_reply_first_and_once_per_message():
    from bot import outage
    from jikimi import content

    class Domain:
        responses = {"utter_crisis": [{"text": "지금 바로 109에 전화하세요."}]}

    class Agent:
        domain = Domain()

        async def parse_message(self, text):
            danger = [{"entity": "danger", "value": "self_harm"}] if "죽" in text else []
            return {"intent": {"name": "crisis" if danger else "greet"}, "entities": danger}

    said = []

    async def send(text):
        said.append(text)

    await outage.answer(Agent(), "conv-1", "죽고 싶어", send)
    assert said == ["지금 바로 109에 전화하세요.", content.message("outage").text]
    await outage.answer(Agent(), "conv-1", "죽고 싶어", send)
    assert len(said) == 2, "sent again by the widget: not answered again"
    await outage.answer(Agent(), "conv-1", "안녕", send)
    assert said[2:] == [content.message("outage").text]


# --- the sealed socket.io queue -----------------------------------------------------


def test_socketio_queue_messages_are_sealed_and_checked():
    from jikimi.socketio_queue import SealedRedisManager

    manager = SealedRedisManager("redis://127.0.0.1:1/0", KEY, channel="c")
    message = {"method": "emit", "event": "bot_uttered", "data": [{"text": "JK-7F3Q2M 링크"}]}
    sealed = manager.seal(message)
    wire = json.dumps(sealed)
    assert "JK-7F3Q2M" not in wire and "bot_uttered" not in wire
    assert manager.open(wire.encode()) == message
    other = SealedRedisManager("redis://127.0.0.1:1/0", Fernet.generate_key().decode())
    assert other.open(wire) is None, "another deployment's key"
    assert manager.open(json.dumps(message)) is None, "an unsealed message"
    assert manager.open(b"not json") is None


def test_socketio_queue_messages_older_than_a_minute_are_dropped(monkeypatch):
    from jikimi import socketio_queue

    manager = socketio_queue.SealedRedisManager("redis://127.0.0.1:1/0", KEY)
    wire = json.dumps(manager.seal({"method": "emit"}))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + socketio_queue.MAX_AGE_S + 5)
    assert manager.open(wire) is None


# --- the lock store without Redis --------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_with_redis_unreachable_a_conversation_is_locked_in_this_process(caplog):
    import asyncio

    from bot.lock_store import AtomicRedisLockStore

    store = AtomicRedisLockStore(host="127.0.0.1", port=closed_port(), secret_key=KEY)
    order = []

    async def turn(name):
        async with store.lock("conversation-1"):
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    with caplog.at_level(logging.WARNING):
        await asyncio.gather(turn("a"), turn("b"))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert "Redis lock store unavailable" in caplog.text
    assert caplog.text.count("Redis lock store unavailable") == 1, "not once per message"


def test_lock_keys_are_keyed_hashes_of_the_conversation():
    from bot.lock_store import AtomicRedisLockStore

    store = AtomicRedisLockStore(host="127.0.0.1", port=closed_port(), secret_key=KEY)
    key = store.lock_key("ws-abcdefgh-secret")
    assert "secret" not in key and key.startswith(store.key_prefix)
    other = AtomicRedisLockStore(host="127.0.0.1", port=closed_port(), secret_key=KEY)
    assert other.lock_key("ws-abcdefgh-secret") == key, "every instance finds the same lock"


# --- warnings through the redaction ---------------------------------------------------


def test_warnings_are_logged_redacted_and_a_quoted_message_is_withheld():
    import warnings

    from rasa.shared.utils.io import raise_warning

    from jikimi import logs

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    # pytest records warnings itself (catch_warnings); the processes do not.
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        logging.captureWarnings(False)  # whatever an earlier test left
        logs.install()
        try:
            raise_warning("Failed to parse arguments in line '/김철수 010-1234-5678'. Continuing.")
            warnings.warn("call 010-9876-5432 please", stacklevel=1)
        finally:
            logging.getLogger().removeHandler(handler)
            logging.captureWarnings(False)  # pytest's own warning capture, for the next tests
    text = stream.getvalue()
    assert "김철수" not in text and "010-1234-5678" not in text
    assert "010-9876-5432" not in text and "[전화번호]" in text
    assert logs.WITHHELD in text


# --- files and settings ----------------------------------------------------------------


def test_a_sqlite_database_is_created_private_and_made_so_if_it_was_not(tmp_path):
    from jikimi.db.session import create_plain_engine, private_sqlite_file

    engine = create_plain_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with engine.connect():
        pass
    engine.dispose()
    assert stat.S_IMODE(os.stat(tmp_path / "new.db").st_mode) == 0o600
    old = tmp_path / "old.db"
    old.touch(mode=0o644)
    os.chmod(old, 0o644)
    private_sqlite_file(f"sqlite:///{old}")
    assert stat.S_IMODE(os.stat(old).st_mode) == 0o600
    private_sqlite_file("postgresql://u@h/db")  # nothing to do
    private_sqlite_file("localhost")


def test_redis_auth_and_tls_reach_rasas_endpoints(tmp_path):
    from jikimi.cli import endpoints_config
    from jikimi.settings import load_settings

    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        environ={
            "RASA_TOKEN": "t",
            "JIKIMI_SECRET_KEY": KEY,
            "JIKIMI_LOCK_STORE_URL": "rediss://jikimi@redis.internal:6380/2",
            "JIKIMI_REDIS_PASSWORD": "s3cret",
            "JIKIMI_REDIS_CA_CERTS": str(ca),
        },
        root=tmp_path,
    )
    lock = endpoints_config(settings)["lock_store"]
    assert lock["use_ssl"] is True and lock["port"] == 6380 and lock["db"] == 2
    assert (lock["username"], lock["password"], lock["ssl_ca_certs"]) == (
        "jikimi",
        "s3cret",
        str(ca),
    )
    with pytest.raises(ValueError):
        load_settings(
            environ={"RASA_TOKEN": "t", "JIKIMI_SECRET_KEY": KEY,
                     "JIKIMI_REDIS_CA_CERTS": str(tmp_path / "missing.pem")},
            root=tmp_path,
        )  # fmt: skip
