"""Starts the whole assistant (`jikimi run`, as `make run` does) once per session."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple

import pytest
import requests

from tests.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "jikimi.tar.gz"
# Short, so that the timeout escalation can be seen; long enough for a test to
# accept a handoff on a busy machine.
HANDOFF_TIMEOUT_S = 12
COUNSELLORS = ("+821090000001", "+821090000002")


@dataclass
class Stack:
    process: subprocess.Popen
    rasa_url: str
    action_url: str
    desk_url: str
    token: str
    log: Path
    database_url: str
    # SMS (tests/e2e/test_sms_handoff.py): the fake Twilio the desk sends to and
    # signs inbound SMS as, the counsellors' phones (by priority; on call only
    # inside `counsellors_on_call`), the stack's settings.
    twilio: Optional[FakeTwilio] = None
    counsellors: Tuple[str, ...] = ()
    settings: Any = None

    def say(self, sender: str, message: str) -> list:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jikimi run exited early:\n{log.read_text()[-4000:]}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} not up after {timeout}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run the tests with `make test`, which trains it.")
    tmp = tmp_path_factory.mktemp("stack")
    ports = {name: _free_port() for name in ("rasa", "action", "desk")}
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "JIKIMI_RASA_PORT": str(ports["rasa"]),
        "JIKIMI_ACTION_PORT": str(ports["action"]),
        "JIKIMI_DESK_PORT": str(ports["desk"]),
        "JIKIMI_DATABASE_URL": f"sqlite:///{tmp / 'jikimi.db'}",
        "RASA_TOKEN": token,
    }
    # SMS through the fake Twilio: inbound signed for the desk's own URL,
    # retries after a second, and a short acceptance timeout.
    twilio = FakeTwilio().start()
    env.update(twilio.env())
    env.update(
        {
            "JIKIMI_PUBLIC_URL": f"http://127.0.0.1:{ports['desk']}",
            "JIKIMI_HANDOFF_TIMEOUT_S": str(HANDOFF_TIMEOUT_S),
            "JIKIMI_SMS_RETRY_S": "1",
        }
    )
    log = tmp / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jikimi.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    s = Stack(
        process,
        f"http://127.0.0.1:{ports['rasa']}",
        f"http://127.0.0.1:{ports['action']}",
        f"http://127.0.0.1:{ports['desk']}",
        token,
        log,
        env["JIKIMI_DATABASE_URL"],
        twilio,
        COUNSELLORS,
    )
    try:
        wait_until(
            lambda: requests.get(f"{s.rasa_url}/status", params={"token": token}, timeout=2)
            .json()
            .get("model_id"),
            240,
            "Rasa server",
            process,
            log,
        )
        wait_until(lambda: requests.get(f"{s.action_url}/health", timeout=2).ok, 60,
                   "action server", process, log)
        wait_until(lambda: requests.get(f"{s.desk_url}/healthz", timeout=2).ok, 60,
                   "desk service", process, log)
        from jikimi.settings import load_settings

        s.settings = load_settings(environ=env)
        yield s
    finally:
        try:
            stop_and_check(process, ports.values(), log)
        finally:
            twilio.stop()



@contextlib.contextmanager
def counsellors_on_call(stack: Stack) -> Iterator[Tuple[str, ...]]:
    """`stack.counsellors` registered and on call (as `jikimi counsellor add` would)
    for the block; afterwards off call, and handoffs left open are closed, so
    that other tests meet a stack with nobody on call, as before."""
    from sqlalchemy import select, update

    from jikimi.db import (
        ACTIVE_HANDOFF_STATES,
        Counsellor,
        Handoff,
        add_counsellor,
        counsellor_by_phone,
        session_scope,
    )

    with session_scope(stack.settings) as session:
        for priority, phone in enumerate(stack.counsellors, start=1):
            existing = counsellor_by_phone(session, phone)
            if existing is None:
                add_counsellor(session, f"상담{priority}", phone, priority=priority)
            else:
                existing.active = True
    try:
        yield stack.counsellors
    finally:
        with session_scope(stack.settings) as session:
            for row in session.execute(select(Counsellor)).scalars():
                row.active = False
            session.execute(
                update(Handoff)
                .where(Handoff.state.in_(ACTIVE_HANDOFF_STATES))
                .values(state="closed")
            )

def stop_and_check(process: subprocess.Popen, ports, log: Path) -> None:
    """Ctrl-C (SIGINT) must stop all three processes and free their ports."""
    import socket

    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError(
            f"jikimi run ignored Ctrl-C:\n{log.read_text()[-4000:]}"
        ) from None
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
