"""Two outbox dispatchers (`jikimi dispatch`, two processes) on one PostgreSQL
database and 500 queued SMS: each is sent exactly once (claimed with
`FOR UPDATE SKIP LOCKED`), as the fake Twilio's record shows.

The dispatchers send from different numbers, so the record also shows that
both took part. Each is told apart in PostgreSQL by its connection's
application_name, which is how the test knows both are polling before it
queues the messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text

from jikimi.db import OutboxMessage, dispose_engines, enqueue, session_scope, utcnow
from jikimi.settings import load_settings
from tests.support.fake_twilio import SERVICE_NUMBER, FakeTwilio

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
COUNT = 500
SECOND_NUMBER = "+15005550007"


def _with_application_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def _wait(check, timeout: float, what: str, processes) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"a dispatcher exited early ({process.returncode})")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_two_dispatchers_send_500_sms_exactly_once(postgres_url, tmp_path):
    key = Fernet.generate_key().decode()
    settings = load_settings(
        environ={"JIKIMI_DATABASE_URL": postgres_url, "JIKIMI_SECRET_KEY": key, "RASA_TOKEN": "t"}
    )
    probe = create_engine(postgres_url, future=True)

    def scalar(sql: str):
        with probe.connect() as connection:
            return connection.execute(text(sql)).scalar_one()

    with FakeTwilio() as fake:
        processes = []
        for name, number in (("dispatcher_a", SERVICE_NUMBER), ("dispatcher_b", SECOND_NUMBER)):
            env = {
                **os.environ,
                **fake.env(),
                "TWILIO_FROM_NUMBER": number,
                "JIKIMI_DATABASE_URL": _with_application_name(postgres_url, name),
                "JIKIMI_SECRET_KEY": key,
                "RASA_TOKEN": "t",
            }
            log = (tmp_path / f"{name}.log").open("w")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "jikimi.cli", "dispatch"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        try:
            _wait(
                lambda: (
                    scalar(
                        "SELECT COUNT(DISTINCT application_name) FROM pg_stat_activity "
                        "WHERE datname = current_database() "
                        "AND application_name IN ('dispatcher_a', 'dispatcher_b')"
                    )
                    == 2
                ),
                120,
                "both dispatchers to poll the outbox",
                processes,
            )
            recipients = {}
            now = utcnow()
            with session_scope(settings) as session:
                for number in range(COUNT):
                    body = f"부하 시험 {number:03d}"
                    recipients[body] = f"+8210{55550000 + number}"
                    enqueue(session, recipients[body], body, now, sender_id=f"s{number}")
            _wait(
                lambda: (
                    scalar("SELECT COUNT(*) FROM outbox_messages WHERE status = 'sent'") == COUNT
                ),
                300,
                f"{COUNT} SMS to be sent",
                processes,
            )
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            probe.dispose()
        sent = fake.messages

    bodies = Counter(m.body for m in sent)
    assert len(sent) == COUNT, f"{len(sent)} sent for {COUNT} queued"
    assert set(bodies) == set(recipients) and max(bodies.values()) == 1
    assert all(m.to == recipients[m.body] for m in sent)
    senders = Counter(m.from_ for m in sent)
    assert set(senders) == {SERVICE_NUMBER, SECOND_NUMBER}, senders  # both took part

    with session_scope(settings) as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.provider_id, OutboxMessage.attempts)
        ).all()
    dispose_engines()
    assert sorted(r.provider_id for r in rows) == sorted(m.sid for m in sent)
    retried = [r for r in rows if r.attempts != 1]
    logs = "".join(
        (tmp_path / f"{name}.log").read_text() for name in ("dispatcher_a", "dispatcher_b")
    )
    assert not retried, f"{len(retried)} SMS took more than one attempt:\n{logs[-4000:]}"
