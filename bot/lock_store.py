"""Rasa's Redis lock store, made safe for several Rasa instances.

Rasa serialises the messages of one conversation with a ticket lock kept in
Redis (`rasa.core.lock_store.RedisLockStore`): each message takes a ticket and
waits until it is the lowest one. In Rasa Open Source 3.6 every change to the
lock is a GET, a change in Python and a SET. Two instances that take a ticket
at the same moment both read the same lock, both append ticket N and both
write it back: both hold ticket N, both process the conversation at once, and
one of the two turns is lost (tests/scale/test_two_rasa_servers.py shows it
with the stock store). Releasing has the same race, and worse: an instance
can delete the lock just after another took a ticket in it, and that message
then fails with a LockError.

`AtomicRedisLockStore` keeps Rasa's lock format and keys, and makes each change
one Redis transaction (WATCH the key, read, MULTI, write, EXEC; redis-py
retries when another instance wrote in between). Releasing removes the ticket
and deletes the key when no ticket is left, in one transaction. A waiting
message looks again every 50 ms instead of every second. Keys expire with
their last ticket, so a crashed instance leaves nothing behind for long.

Two more things the stock store does not do (issue 15):

- Redis down is not silence. Stock Rasa fails every message while Redis is
  unreachable, and the widget student hears nothing. Here a message that
  cannot take or wait for its Redis ticket is served under a lock of this
  process instead (Rasa's in-memory lock store), with a warning: one Rasa
  instance still takes a conversation's messages one at a time, and with
  several instances two messages of one conversation could meet only if they
  reach two instances within the outage (the load balancer keeps a widget on
  one). Once Redis answers again, tickets are taken there again.
- Keys say nothing. A lock's key and its stored value carry a keyed hash of
  the conversation id (`JIKIMI_SECRET_KEY`'s hash key), not the id.

Named in the endpoints file as `lock_store: {type: bot.lock_store.AtomicRedisLockStore,
url: <host>, port: ..., db: ..., use_ssl: ..., password: ...}` (jikimi/cli.py
writes it from JIKIMI_LOCK_STORE_URL).
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional, Text, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.install import check_rasa_version
from jikimi.db.crypto import Keyring
from jikimi.settings import load_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How often a message waiting for its turn looks at the lock again (Rasa: 1 s).
POLL_S = 0.05
# A Redis that does not accept a connection within this long counts as down.
CONNECT_TIMEOUT_S = 2.0
# The degraded-lock warning is logged at most this often.
WARN_EVERY_S = 30.0


def _redis_errors() -> tuple:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, LockError)


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose every change to a lock is one Redis transaction."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        secret_key: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        check_rasa_version()  # it relies on RedisLockStore's internals
        # Rasa builds a lock store named by module path with `endpoint_config`
        # only; keyword arguments are RedisLockStore's (host, port, db, ...).
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self.red.connection_pool.connection_kwargs["socket_connect_timeout"] = CONNECT_TIMEOUT_S
        if secret_key is None:
            secret_key = load_settings().secret_key
        self._keyring = Keyring(secret_key)
        self._local = InMemoryLockStore()
        self._warned_at = -WARN_EVERY_S

    def hashed(self, conversation_id: Text) -> Text:
        """What stands for `conversation_id` in Redis (key and value)."""
        return self._keyring.digest("rasa-lock\x00" + conversation_id)[:40]

    def lock_key(self, conversation_id: Text) -> Text:
        return self.key_prefix + self.hashed(conversation_id)

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        raw = self.red.get(self.lock_key(conversation_id))
        return TicketLock.from_dict(json.loads(raw)) if raw else None

    def delete_lock(self, conversation_id: Text) -> None:
        self.red.delete(self.lock_key(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        # Locks read from Redis carry the hashed id already (see `_change`).
        self.red.set(self.key_prefix + lock.conversation_id, lock.dumps())

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_S,
    ) -> AsyncIterator[TicketLock]:
        """Rasa's ticket lock in Redis; this process's own when Redis fails."""
        errors = _redis_errors()
        ticket: Optional[int] = None
        acquired: Optional[TicketLock] = None
        try:
            ticket = self.issue_ticket(conversation_id, lock_lifetime)
            acquired = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        except errors as error:
            self._degraded(error)
            if ticket is not None:
                self._forget(conversation_id, ticket)
        if acquired is None:
            async with self._local.lock(
                conversation_id, lock_lifetime, wait_time_in_seconds
            ) as local:
                yield local
            return
        try:
            yield acquired
        finally:
            self._forget(conversation_id, ticket)

    def _forget(self, conversation_id: Text, ticket: int) -> None:
        try:
            self.cleanup(conversation_id, ticket)
        except _redis_errors():
            pass  # the ticket expires with its key

    def _degraded(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            logger.warning(
                "Redis lock store unavailable (%s): conversations are locked in this "
                "process only until it is back.",
                type(error).__name__,
            )

    def _change(self, conversation_id: Text, change: Callable[[TicketLock], T]) -> T:
        """Runs `change` on the stored lock (a new one if there is none) and
        stores the result, all in one transaction; an empty lock is deleted."""
        key = self.lock_key(conversation_id)

        def transaction(pipe: Any) -> T:
            raw = pipe.get(key)
            lock = (
                TicketLock.from_dict(json.loads(raw))
                if raw
                else TicketLock(self.hashed(conversation_id))
            )
            result = change(lock)
            lock.remove_expired_tickets()
            pipe.multi()
            if lock.tickets:
                last_expiry = max(ticket.expires for ticket in lock.tickets)
                pipe.set(key, lock.dumps(), ex=max(1, math.ceil(last_expiry - time.time())))
            else:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def update_lock(self, conversation_id: Text) -> None:
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets())

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # One transaction: the lock is deleted only when no ticket is left in it.
        self.finish_serving(conversation_id, ticket_number)
