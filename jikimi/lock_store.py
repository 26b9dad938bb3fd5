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

Named in the endpoints file as `lock_store: {type: jikimi.lock_store.AtomicRedisLockStore,
url: <host>, port: ..., db: ..., use_ssl: ..., password: ...}` (jikimi/cli.py
writes it from JIKIMI_LOCK_STORE_URL).
"""

from __future__ import annotations

import json
import math
import time
from contextlib import AbstractAsyncContextManager
from typing import Any, Callable, Optional, Text, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")

# How often a message waiting for its turn looks at the lock again (Rasa: 1 s).
POLL_S = 0.05


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose every change to a lock is one Redis transaction."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        # Rasa builds a lock store named by module path with `endpoint_config`
        # only; keyword arguments are RedisLockStore's (host, port, db, ...).
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_S,
    ) -> AbstractAsyncContextManager:
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)

    def _change(self, conversation_id: Text, change: Callable[[TicketLock], T]) -> T:
        """Runs `change` on the stored lock (a new one if there is none) and
        stores the result, all in one transaction; an empty lock is deleted."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> T:
            raw = pipe.get(key)
            lock = (
                TicketLock.from_dict(json.loads(raw)) if raw else TicketLock(conversation_id)
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
