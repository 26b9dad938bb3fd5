"""The outbox dispatcher with twilio's real client against the fake Twilio
(tests/support/fake_twilio.py), on SQLite and PostgreSQL: every SMS reaches Twilio
exactly once through outages, 429s, timeouts and concurrent dispatchers."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from jikimi.db import OutboxMessage, enqueue, utcnow
from jikimi.dispatcher import AMBIGUOUS, Dispatcher, dispatch_until_idle
from jikimi.sms import LocalRecorder, TwilioTransport, api_base_http_client, transport_for
from tests.support.fake_twilio import FakeTwilio

PHONE = "+821012345678"


@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def settings(db, fake):
    return dataclasses.replace(
        db.settings,
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=fake.auth_token,
        twilio_from_number=fake.from_number,
        twilio_api_base=fake.url,
    )


class Clock:
    """The dispatcher's idea of now, moved on by hand so retries come due at once."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self):
        return utcnow() + self.ahead

    def later(self, minutes: int = 5) -> None:
        self.ahead += timedelta(minutes=minutes)


@pytest.fixture
def clock():
    return Clock()


def dispatcher(settings, clock, timeout=5.0, per_number_per_minute=0, **options):
    """A dispatcher on the fake Twilio; no per-number cap unless asked for."""
    settings = dataclasses.replace(settings, sms_per_number_per_minute=per_number_per_minute)
    return Dispatcher(
        settings,
        TwilioTransport(settings, timeout=timeout),
        clock=clock,
        backoff=timedelta(seconds=1),
        **options,
    )


def queue(db, *bodies, to=PHONE):
    with db.session() as session:
        return [enqueue(session, to, body, utcnow()).id for body in bodies]


def rows(db):
    with db.session() as session:
        return {
            m.id: (m.status, m.attempts, m.provider_id, m.last_error)
            for m in session.execute(select(OutboxMessage)).scalars()
        }


def test_messages_reach_twilio_once_with_our_number(db, settings, clock, fake):
    ids = queue(db, "첫 번째", "두 번째")
    result = dispatcher(settings, clock).run_once()
    assert (result.claimed, result.sent) == (2, 2)
    assert [(m.to, m.from_, m.body) for m in fake.messages] == [
        (PHONE, fake.from_number, "첫 번째"),
        (PHONE, fake.from_number, "두 번째"),
    ]
    stored = rows(db)
    assert [stored[i][2] for i in ids] == [m.sid for m in fake.messages]
    assert dispatcher(settings, clock).run_once().claimed == 0  # nothing twice


def test_twilio_down_then_back_delivers_everything_exactly_once(db, settings, clock, fake):
    ids = queue(db, *[f"메시지 {i}" for i in range(12)])
    fake.down(500)
    sender = dispatcher(settings, clock, batch=5)
    for _ in range(3):
        dispatch_until_idle(sender)
        clock.later()
    assert fake.messages == []
    assert all(status == "queued" and error.startswith(AMBIGUOUS)
               for status, _, _, error in rows(db).values())  # fmt: skip
    fake.up()
    clock.later(60)
    dispatch_until_idle(sender)
    assert sorted(m.body for m in fake.messages) == sorted(f"메시지 {i}" for i in range(12))
    stored = rows(db)
    assert all(stored[i][0] == "sent" for i in ids)
    assert len({stored[i][2] for i in ids}) == 12


def test_429_is_retried_later_without_asking_twilio_first(db, settings, clock, fake):
    [message] = queue(db, "잠시만요")
    fake.fail_next(429)
    sender = dispatcher(settings, clock)
    assert sender.run_once().retrying == 1
    status, attempts, _, error = rows(db)[message]
    assert (status, attempts) == ("queued", 1) and not error.startswith(AMBIGUOUS)
    assert sender.run_once().claimed == 0  # not due yet: backoff
    clock.later()
    assert sender.run_once().sent == 1
    assert [m.body for m in fake.messages] == ["잠시만요"]
    assert [r["method"] for r in fake.requests] == ["POST", "POST"]  # no lookup needed


def test_a_timeout_after_twilio_accepted_is_not_sent_again(db, settings, clock, fake):
    [message] = queue(db, "한 번만")
    fake.hang_next(record=True)
    sender = dispatcher(settings, clock, timeout=0.5)
    assert sender.run_once().retrying == 1
    fake.release()
    assert rows(db)[message][3].startswith(AMBIGUOUS)
    clock.later()
    result = sender.run_once()
    assert (result.sent, result.found_sent) == (1, 1)
    [sent] = fake.messages
    assert rows(db)[message][:3] == ("sent", 2, sent.sid)
    assert [r["method"] for r in fake.requests] == ["POST", "GET"]


def test_a_timeout_before_twilio_accepted_is_sent_again(db, settings, clock, fake):
    [message] = queue(db, "다시 보내요")
    fake.hang_next(record=False)
    sender = dispatcher(settings, clock, timeout=0.5)
    sender.run_once()
    fake.release()
    clock.later()
    result = sender.run_once()
    assert (result.sent, result.found_sent) == (1, 0)
    assert [m.body for m in fake.messages] == ["다시 보내요"]
    assert rows(db)[message][0] == "sent"


def test_identical_messages_are_told_apart_after_a_timeout(db, settings, clock, fake):
    first, second = queue(db, "네", "네")
    fake.hang_next(record=True)
    sender = dispatcher(settings, clock, timeout=0.5)
    sender.run_once()  # the first hangs (Twilio has it), the second goes through
    fake.release()
    clock.later()
    sender.run_once()  # the first is found at Twilio: the id the second does not hold
    assert len(fake.messages) == 2
    stored = rows(db)
    assert {stored[first][2], stored[second][2]} == {m.sid for m in fake.messages}


def test_a_slow_round_leaves_the_rest_before_its_lease_runs_out(db, settings, clock, fake):
    ids = queue(db, "하나", "둘", "셋")
    fake.hang_next(1, record=False, seconds=5)
    # The first send takes the client's whole timeout (0.5 s), past this round's budget.
    sender = dispatcher(settings, clock, timeout=0.5, lease_use_s=0.45)
    result = sender.run_once()
    assert (result.claimed, result.retrying, result.left) == (3, 1, 2)
    fake.release()
    stored = rows(db)
    assert [stored[i][:2] for i in ids[1:]] == [("sending", 1)] * 2  # due again after the lease
    assert fake.messages == []
    clock.later()
    dispatch_until_idle(sender)
    assert sorted(m.body for m in fake.messages) == sorted(["하나", "둘", "셋"])


def test_twilio_unreachable_is_retried(db, settings, clock, fake):
    [message] = queue(db, "연결")
    fake.stop()
    sender = dispatcher(settings, clock, timeout=1.0)
    assert sender.run_once().retrying == 1
    assert not rows(db)[message][3].startswith(AMBIGUOUS)  # refused: nothing went out


def test_an_invalid_message_is_given_up_at_once(db, settings, clock, fake):
    [message] = queue(db, "잘못된 번호")
    fake.fail_next(400)
    assert dispatcher(settings, clock).run_once().given_up == 1
    assert rows(db)[message][0] == "failed"
    clock.later()
    assert dispatcher(settings, clock).run_once().claimed == 0


def test_attempts_run_out(db, settings, clock, fake):
    [message] = queue(db, "포기")
    fake.down(429)
    sender = dispatcher(settings, clock, max_attempts=3)
    for _ in range(4):
        sender.run_once()
        clock.later(120)
    assert rows(db)[message][:2] == ("failed", 3)
    assert fake.messages == []


def test_concurrent_dispatchers_send_each_message_once(db, settings, fake):
    queue(db, *[f"동시 {i}" for i in range(30)])
    errors = []

    def run():
        try:
            uncapped = dataclasses.replace(settings, sms_per_number_per_minute=0)
            dispatch_until_idle(Dispatcher(uncapped, TwilioTransport(uncapped), batch=3))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(m.body for m in fake.messages) == sorted(f"동시 {i}" for i in range(30))


def test_nothing_private_is_logged(db, settings, clock, fake, caplog):
    queue(db, "비밀 이야기")
    fake.fail_next(500)
    fake.fail_next(400)
    queue(db, "두 번째 비밀")
    with caplog.at_level(logging.DEBUG):
        sender = dispatcher(settings, clock)
        sender.run_once()
        clock.later()
        sender.run_once()
    # Ours at any level; everyone's (twilio, urllib3) from INFO up.
    logged = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("jikimi") or r.levelno >= logging.INFO
    )
    assert "sms 1" in logged and "sms 2" in logged
    for private in ("비밀", PHONE, "1012345678", "%2B82", fake.auth_token):
        assert private not in logged


def test_the_http_client_keeps_the_path_and_moves_the_host(monkeypatch):
    """Every other test here reaches the fake only through this rewrite; this
    one checks a base URL with a path (a proxy) too."""
    from twilio.http.http_client import TwilioHttpClient

    seen = []

    def send(self, method, url, *args, **kwargs):
        seen.append(url)
        raise RuntimeError("not sent")

    monkeypatch.setattr(TwilioHttpClient, "request", send)
    client = api_base_http_client("http://127.0.0.1:9/proxy/")
    with pytest.raises(RuntimeError):
        client.request("POST", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1")
    assert seen == ["http://127.0.0.1:9/proxy/2010-04-01/Accounts/AC1/Messages.json?x=1"]
    with pytest.raises(ValueError):
        api_base_http_client("ftp://example.org")


def test_without_credentials_messages_are_recorded_not_sent(db, clock, capsys):
    settings = db.settings  # no TWILIO_*: the local recorder
    transport = transport_for(settings)
    assert isinstance(transport, LocalRecorder)
    queue(db, "기록만 해요")
    result = Dispatcher(settings, transport, clock=clock).run_once()
    assert result.sent == 1
    printed = capsys.readouterr().out
    assert "NOT SENT" in printed and "기록만 해요" in printed
    assert PHONE not in printed and "+8210****5678" in printed
    [record] = transport.records()
    assert (record["to"], record["body"], record["sent"]) == (PHONE, "기록만 해요", False)
    assert stat.S_IMODE(os.stat(transport.path).st_mode) == 0o600
    assert rows(db)[1][2] == record["sid"]


# --- issue 15: per-number cap, one hung send ----------------------------------------

OTHER = "+821055550002"


def test_a_number_gets_at_most_its_share_per_minute_and_the_rest_later(db, settings, clock, fake):
    ids = queue(db, *[f"답 {i}" for i in range(7)])
    queue(db, "다른 사람에게", to=OTHER)
    sender = dispatcher(settings, clock, per_number_per_minute=3)
    dispatch_until_idle(sender)
    to_phone = [m.body for m in fake.messages if m.to == PHONE]
    assert to_phone == ["답 0", "답 1", "답 2"], "the cap, in order"
    assert [m.body for m in fake.messages if m.to == OTHER] == ["다른 사람에게"]
    waiting = [rows(db)[i] for i in ids[3:]]
    assert all(status == "queued" and attempts == 0 for status, attempts, _, _ in waiting)
    clock.later(1)  # a minute on: the next three
    dispatch_until_idle(sender)
    assert len([m for m in fake.messages if m.to == PHONE]) == 6
    clock.later(1)
    dispatch_until_idle(sender)
    assert [m.body for m in fake.messages if m.to == PHONE] == [f"답 {i}" for i in range(7)]


async def test_one_hung_send_does_not_hold_up_other_numbers(db, settings, fake):
    import asyncio
    import time

    from jikimi.dispatcher import run_forever

    queue(db, "걸리는 문자")
    fake.hang_next(1, record=False, seconds=4)
    sender = Dispatcher(
        dataclasses.replace(settings, sms_per_number_per_minute=0),
        TwilioTransport(settings, timeout=3),
        backoff=timedelta(seconds=30),
    )
    stop = asyncio.Event()
    loop_task = asyncio.create_task(run_forever(sender, stop, interval=0.1))
    await asyncio.sleep(0.5)  # the hung send is in flight
    started = time.monotonic()
    queue(db, *[f"다른 번호 {i}" for i in range(3)], to=OTHER)
    while len([m for m in fake.messages if m.to == OTHER]) < 3:
        assert time.monotonic() - started < 2.5, "held up behind the hung send"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop_task, 20)
    assert [m.body for m in fake.messages if m.to == OTHER] == [f"다른 번호 {i}" for i in range(3)]


def test_a_send_whose_outcome_was_never_recorded_is_not_sent_again(db, settings, clock, fake):
    """The database went down between Twilio accepting a message and the outcome
    being written (or the dispatcher died there): the row comes due again when
    its lease runs out, and the dispatcher finds it at Twilio instead of sending."""
    from jikimi.db import claim_due, session_scope

    [message_id] = queue(db, "한 번만")
    sender = dispatcher(settings, clock)
    with session_scope(sender.settings) as session:
        [claimed] = claim_due(session, 1, clock())
        recipient, body = claimed.recipient, claimed.body
    sender.transport.send(recipient, body)  # sent; then the outcome is lost
    assert dispatch_until_idle(sender)[0].claimed == 0, "leased"
    clock.later(2)  # the lease has run out
    result = dispatcher(settings, clock).run_once()
    assert (result.claimed, result.found_sent, result.sent) == (1, 1, 1)
    assert [m.body for m in fake.messages] == ["한 번만"]
    assert rows(db)[message_id][2] == fake.messages[0].sid
