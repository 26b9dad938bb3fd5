"""The outbox dispatcher: sends every queued SMS, once.

A round claims due messages (`claim_due`: short transaction, SKIP LOCKED on
PostgreSQL), sends each outside any transaction, and records the outcome in
another short transaction (`mark_sent` / `mark_failed`). A failed send is tried
again after `JIKIMI_SMS_RETRY_S` seconds, doubling each time (at most an hour),
and given up after `max_attempts` or at once when retrying cannot help (an
invalid number). Twilio being down therefore loses nothing.

Nothing is sent twice on a timeout either. When a send ends in doubt (read
timeout, connection reset, a 5xx: Twilio may have accepted the message), the
failure is recorded as ambiguous, and before the next attempt the dispatcher
asks Twilio for a message from our number to that recipient with that body,
created since the message was queued, whose id no other outbox row holds. If
there is one, it is recorded as this message's id and nothing is sent. The
same look-up is made for a message claimed again after its lease ran out with
no outcome recorded: its dispatcher died after sending, or the database went
down before the outcome could be written (issue 15). That is what used to send
twice; now only a message Twilio accepted but does not list yet can.

`run_forever` is the loop the desk service runs as a background task;
`jikimi dispatch --once` runs a single round. It keeps up to `batch` sends in
flight, each in a thread of its own, and claims more as slots free up: one send
hanging until Twilio's timeout holds up only the messages to the same number
(sent one at a time, in order), not everybody's (a red-team run measured 29.9 s
behind one hung send when rounds were sequential).

No number is sent more than JIKIMI_SMS_PER_NUMBER_PER_MINUTE messages in a
minute: a message over the cap is put back, due when the oldest send of that
minute is a minute old, without counting as an attempt (a burst of 40 SMS from
one student got 40 back at once).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Dict, List, Optional

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from jikimi.db import (
    Counsellor,
    OutboxMessage,
    claim_due,
    mark_failed,
    mark_sent,
    session_scope,
    utcnow,
)
from jikimi.db.outbox import DEFAULT_LEASE, defer
from jikimi.settings import Settings
from jikimi.sms import TWILIO_TIMEOUT_S, SendError, transport_for

logger = logging.getLogger(__name__)

# Marks a recorded failure after which the message may have gone out anyway.
AMBIGUOUS = "ambiguous: "
MAX_ATTEMPTS = 8
# No send starts later than this into a round: with a send's own worst case
# (a lookup and a send, each up to jikimi.sms.TWILIO_TIMEOUT_S) it still ends
# before the claim's lease does.
LEASE_USE_S = DEFAULT_LEASE.total_seconds() - 3 * TWILIO_TIMEOUT_S


@dataclass
class RoundResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    given_up: int = 0
    found_sent: int = 0  # ambiguous earlier, found at the provider: not sent again
    left: int = 0  # claimed but left for a later round (slow sending)
    deferred: int = 0  # over the per-number cap: put back for later


@dataclass(frozen=True)
class _Claimed:
    id: int
    recipient: str
    body: str
    last_error: Optional[str]
    created_at: datetime
    attempts: int
    recipient_hash: Optional[str] = None


CAP_WINDOW = timedelta(minutes=1)
# A database that stays down is logged once in this many seconds.
DB_WARN_EVERY_S = 30.0


class Dispatcher:
    """Sends due outbox messages through `transport` (Twilio, or the local recorder)."""

    def __init__(
        self,
        settings: Settings,
        transport=None,
        *,
        batch: int = 10,
        backoff: Optional[timedelta] = None,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Callable[[], datetime] = utcnow,
        lease_use_s: float = LEASE_USE_S,
        channel: str = "sms",
    ) -> None:
        self.settings = settings
        # Which outbox rows this dispatcher claims: "sms" (Twilio) or "kakao"
        # (Kakao's event API, jikimi/kakao.py), each with its own transport.
        self.channel = channel
        self.transport = transport if transport is not None else transport_for(settings)
        self.batch = batch
        self.backoff = backoff if backoff is not None else timedelta(seconds=settings.sms_retry_s)
        self.max_attempts = max_attempts
        self.clock = clock
        self.lease_use_s = lease_use_s

    def run_once(self) -> RoundResult:
        """One round: claim what is due, send it, record each outcome.

        Claimed rows are leased (DEFAULT_LEASE); when sending is slow (Twilio
        hanging until each timeout), the rest of the batch is left before its
        lease runs out, unsent, to be claimed again: another dispatcher taking
        a row whose lease ran out must not find it being sent by us.
        """
        started = time.monotonic()
        claimed = self.claim(self.batch)
        result = RoundResult(claimed=len(claimed))
        for index, message in enumerate(claimed):
            if time.monotonic() - started > self.lease_use_s:
                result.left = len(claimed) - index
                logger.warning("sending is slow: %s SMS left for a later round", result.left)
                break
            self._deliver(message, result)
        return result

    def claim(self, limit: int) -> List[_Claimed]:
        """Claims up to `limit` due messages (one short transaction)."""
        with session_scope(self.settings) as session:
            return [
                _Claimed(
                    m.id,
                    m.recipient,
                    m.body,
                    m.last_error,
                    m.created_at,
                    m.attempts,
                    m.recipient_hash,
                )  # fmt: skip
                for m in claim_due(session, limit, self.clock(), channel=self.channel)
            ]

    def _over_cap(self, message: _Claimed) -> Optional[datetime]:
        """When `message` may go, if its number has had its share this minute.
        Counsellors' numbers are not capped here: what reaches them is capped
        where it is made (jikimi/handoff.py), and an urgent page must not wait."""
        cap = self.settings.sms_per_number_per_minute
        if not cap or not message.recipient_hash:
            return None
        now = self.clock()
        with session_scope(self.settings) as session:
            counsellor = session.execute(
                select(Counsellor.id).where(Counsellor.phone_hash == message.recipient_hash)
            ).first()
            if counsellor is not None:
                return None
            count, oldest = session.execute(
                select(func.count(OutboxMessage.id), func.min(OutboxMessage.sent_at)).where(
                    OutboxMessage.recipient_hash == message.recipient_hash,
                    OutboxMessage.sent_at > now - CAP_WINDOW,
                )
            ).one()
        if count < cap:
            return None
        return (oldest or now) + CAP_WINDOW

    def deliver(self, message: _Claimed) -> RoundResult:
        """Sends one claimed message and records the outcome."""
        result = RoundResult(claimed=1)
        self._deliver(message, result)
        return result

    def _deliver(self, message: _Claimed, result: RoundResult) -> None:
        until = self._over_cap(message)
        if until is not None:
            with session_scope(self.settings) as session:
                defer(session, message.id, until)
            result.deferred += 1
            logger.info("sms %s waits: its number had its share of SMS this minute", message.id)
            return
        try:
            sid = None
            # Claimed before with no outcome recorded: the lease ran out while its
            # send's outcome could not be written (the database down) or its
            # dispatcher died. It may have gone out: look before sending.
            unrecorded = message.attempts > 1 and not message.last_error
            if unrecorded or (message.last_error and message.last_error.startswith(AMBIGUOUS)):
                sid = self._already_sent(message)
                if sid is not None:
                    result.found_sent += 1
            if sid is None:
                sid = self.transport.send(message.recipient, message.body)
        except SendError as error:
            self._failed(message, error, result)
            return
        except Exception as error:  # noqa: BLE001 - unknown: assume it may have gone out
            logger.exception("sms %s: unexpected error while sending", message.id)
            self._failed(message, SendError(type(error).__name__, ambiguous=True), result)
            return
        with session_scope(self.settings) as session:
            recorded = mark_sent(session, message.id, sid, self.clock())
        if recorded:
            result.sent += 1
            logger.info("sms %s sent (attempt %s)", message.id, message.attempts)
        else:
            logger.info("sms %s sent, but its row was erased meanwhile", message.id)

    def _already_sent(self, message: _Claimed) -> Optional[str]:
        """The provider's id of this message if an earlier, doubtful attempt went out."""
        candidates = self.transport.find_sent(message.recipient, message.body, message.created_at)
        if not candidates:
            return None
        with session_scope(self.settings) as session:
            taken = set(
                session.execute(
                    select(OutboxMessage.provider_id).where(
                        OutboxMessage.provider_id.in_(candidates)
                    )
                ).scalars()
            )
        free = [sid for sid in candidates if sid not in taken]
        return free[-1] if free else None  # the oldest: listed newest first

    def _failed(self, message: _Claimed, error: SendError, result: RoundResult) -> None:
        reason = (AMBIGUOUS if error.ambiguous else "") + error.reason
        with session_scope(self.settings) as session:
            mark_failed(
                session,
                message.id,
                reason,
                self.clock(),
                backoff=self.backoff,
                max_attempts=self.max_attempts,
                permanent=error.permanent,
            )
            row = session.get(OutboxMessage, message.id)
            status = row.status if row is not None else "erased"
        # The reason may quote a phone number: it is stored encrypted, not logged.
        if status == "failed":
            result.given_up += 1
            logger.error(
                "sms %s given up after %s attempts (%s)",
                message.id,
                message.attempts,
                "permanent error" if error.permanent else "too many failures",
            )
        else:
            result.retrying += 1
            logger.warning(
                "sms %s not sent (attempt %s%s); will retry",
                message.id,
                message.attempts,
                ", may have reached the provider" if error.ambiguous else "",
            )


class _InFlight:
    """Sends in flight: at most `slots`, each number's one at a time, in order."""

    def __init__(self, dispatcher: Dispatcher, slots: int) -> None:
        self.dispatcher = dispatcher
        self.slots = slots
        self.pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="jikimi-send")
        self._lock = threading.Lock()
        self._count = 0
        self._last: Dict[str, Future] = {}

    def free(self) -> int:
        with self._lock:
            return self.slots - self._count

    def submit(self, message: _Claimed) -> None:
        key = message.recipient_hash or f"id-{message.id}"
        with self._lock:
            self._count += 1
            before = self._last.get(key)
            future = self.pool.submit(self._run, before, message)
            self._last[key] = future

        def done(finished: Future) -> None:
            with self._lock:
                self._count -= 1
                if self._last.get(key) is finished:
                    del self._last[key]

        future.add_done_callback(done)

    def _run(self, before: Optional[Future], message: _Claimed) -> None:
        if before is not None:
            try:
                before.result()
            except Exception:  # noqa: BLE001 - logged where it happened
                pass
        try:
            self.dispatcher.deliver(message)
        except SQLAlchemyError as error:
            # The lease brings it back, and it is looked up before it is sent again.
            logger.warning("sms %s: its outcome waits for the database (%s)",
                           message.id, type(error).__name__)  # fmt: skip
        except Exception:  # noqa: BLE001 - as above
            logger.exception("sms %s: recording the outcome failed", message.id)

    def shutdown(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.free() < self.slots and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pool.shutdown(wait=False, cancel_futures=True)


async def run_forever(
    dispatcher: Dispatcher,
    stop: asyncio.Event,
    executor: Optional[Executor] = None,
    interval: float = 0.5,
) -> None:
    """Sends until `stop` is set: claims as many due messages as there are free
    send slots (`dispatcher.batch`), at once again when it filled them, else
    after `interval` seconds; each send runs in a thread of its own (module doc).
    A database error is logged and retried."""
    loop = asyncio.get_running_loop()
    flight = _InFlight(dispatcher, dispatcher.batch)
    warned_at = -DB_WARN_EVERY_S
    try:
        while not stop.is_set():
            free = flight.free()
            claimed: List[_Claimed] = []
            if free > 0:
                try:
                    claimed = await loop.run_in_executor(executor, dispatcher.claim, free)
                except SQLAlchemyError as error:  # keep dispatching once the database is back
                    if loop.time() - warned_at >= DB_WARN_EVERY_S:
                        warned_at = loop.time()
                        name = type(error).__name__
                        logger.warning("the outbox waits for the database (%s)", name)
                except Exception:  # noqa: BLE001 - keep dispatching
                    logger.exception("claiming outbox messages failed")
            for message in claimed:
                flight.submit(message)
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
    finally:
        await loop.run_in_executor(None, flight.shutdown, 10.0)


def dispatch_until_idle(dispatcher: Dispatcher, max_rounds: int = 1000) -> List[RoundResult]:
    """Rounds until one claims nothing (`jikimi dispatch --once` runs one round)."""
    results = []
    for _ in range(max_rounds):
        result = dispatcher.run_once()
        results.append(result)
        if result.claimed == 0:
            break
    return results
