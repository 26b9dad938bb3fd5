"""The Redis lock store several Rasa instances share (bot/lock_store.py), on
the real Redis at 127.0.0.1:6379 (JIKIMI_TEST_REDIS_URL; database
JIKIMI_TEST_REDIS_DB, default 11). Each "instance" is a store of its own with
its own connection, in a thread of its own."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore

REDIS_URL = os.environ.get("JIKIMI_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("JIKIMI_TEST_REDIS_DB", "11"))


def new_store() -> AtomicRedisLockStore:
    from urllib.parse import urlsplit

    url = urlsplit(REDIS_URL)
    return AtomicRedisLockStore(host=url.hostname, port=url.port or 6379, db=REDIS_DB)


@pytest.fixture
def conversation():
    redis = pytest.importorskip("redis")
    try:
        new_store().red.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {error}")
    conversation_id = f"lock-test-{secrets.token_hex(6)}"
    yield conversation_id
    new_store().delete_lock(conversation_id)


def test_rasa_builds_it_from_the_endpoints_file_entry():
    store = LockStore.create(
        EndpointConfig(url="127.0.0.1", type="bot.lock_store.AtomicRedisLockStore", port=6379, db=3)
    )
    assert isinstance(store, AtomicRedisLockStore)
    assert store.red.connection_pool.connection_kwargs["db"] == 3


def test_tickets_taken_at_once_by_several_instances_are_all_different(conversation):
    instances, per_instance = 6, 40
    start = threading.Barrier(instances)

    def take() -> list:
        store = new_store()
        start.wait(timeout=30)
        return [store.issue_ticket(conversation, 60) for _ in range(per_instance)]

    with ThreadPoolExecutor(instances) as pool:
        tickets = [t for batch in pool.map(lambda _: take(), range(instances)) for t in batch]
    assert len(set(tickets)) == instances * per_instance


def test_only_one_instance_at_a_time_holds_the_conversation(conversation):
    """A read-wait-write counter inside the lock loses no update, and every
    message gets its turn (none fails with a LockError)."""
    instances, per_instance = 4, 10
    state = {"counter": 0, "inside": 0, "most_inside": 0}
    guard = threading.Lock()

    async def message(store: AtomicRedisLockStore) -> None:
        async with store.lock(conversation, lock_lifetime=30):
            with guard:
                state["inside"] += 1
                state["most_inside"] = max(state["most_inside"], state["inside"])
            seen = state["counter"]
            await asyncio.sleep(0.005)
            state["counter"] = seen + 1
            with guard:
                state["inside"] -= 1

    def instance(_: int) -> None:
        store = new_store()

        async def run() -> None:
            await asyncio.gather(*(message(store) for _ in range(per_instance)))

        asyncio.run(run())

    with ThreadPoolExecutor(instances) as pool:
        list(pool.map(instance, range(instances)))
    assert state["most_inside"] == 1
    assert state["counter"] == instances * per_instance
    assert new_store().get_lock(conversation) is None  # released and deleted


def test_an_expired_ticket_does_not_block_the_next(conversation):
    store = new_store()
    store.issue_ticket(conversation, lock_lifetime=0.01)  # a crashed instance's ticket

    async def take() -> int:
        async with store.lock(conversation, lock_lifetime=5):
            return 1

    assert asyncio.run(asyncio.wait_for(take(), timeout=10)) == 1
