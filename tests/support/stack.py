"""The whole assistant (`jikimi run`, as `make run` does) for tests: one stack
per test session, shared by the end-to-end tests and the conversation
scenarios (tests/conftest.py has the fixture)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import requests

from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import MODEL, ROOT, stack_env, start_run, stop, tail, urls

# Short, so that the timeout escalation can be seen; long enough for a test to
# accept a handoff on a busy machine.
HANDOFF_TIMEOUT_S = 12
COUNSELLORS = ("+821090000001", "+821090000002")


def report_answers(link: str, description: str) -> List[Tuple[str, str]]:
    """A student's answers to the report form, each with a piece of the question
    that must come next (the last one: the summary to confirm). The form's
    first question (만 19세 미만?) comes with /start_report."""
    return [
        ("중2예요", "어디에서"),
        ("텔레그램", "언제"),
        ("어제", "아직"),
        ("아직 있어요", "만들거나 퍼뜨린 사람"),
        ("같은 학교 친구예요", "링크"),
        (link, "1개를 받았어요"),
        ("다 보냈어요", "있었던 일"),
        (description, "맞는지 확인"),
    ]


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

    def tracker(self, sender: str, **params: str) -> dict:
        """The conversation as Rasa's HTTP API gives it (with the token)."""
        response = requests.get(
            f"{self.rasa_url}/conversations/{sender}/tracker",
            params={"token": self.token, **params},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


@contextlib.contextmanager
def running_stack(tmp: Path, root: Path = ROOT, model: Path = MODEL) -> Iterator[Stack]:
    """Starts the stack in `tmp` and stops it (and checks that Ctrl-C freed its
    ports) when the block ends. `root` and `model`: another checkout."""
    # SMS through the fake Twilio: inbound signed for the desk's own URL,
    # retries after a second, and a short acceptance timeout.
    twilio = FakeTwilio().start()
    env = stack_env(tmp, **twilio.env())
    url = urls(env)
    env.update(
        {
            "JIKIMI_PUBLIC_URL": url["desk"],
            "JIKIMI_HANDOFF_TIMEOUT_S": str(HANDOFF_TIMEOUT_S),
            "JIKIMI_SMS_RETRY_S": "1",
            # Every test conversation comes from 127.0.0.1 and pages the same
            # two counsellors: the address and counsellor page caps
            # (jikimi/handoff.py) are tested on their own stacks (tests/faults).
            "JIKIMI_PAGES_PER_ADDRESS_PER_HOUR": "0",
            "JIKIMI_PAGES_PER_COUNSELLOR_PER_HOUR": "0",
            "JIKIMI_SMS_PER_NUMBER_PER_MINUTE": "0",
        }
    )
    log = tmp / "run.log"
    try:
        process = start_run(env, log, root, model)
        try:
            from jikimi.settings import load_settings

            yield Stack(
                process,
                url["rasa"],
                url["actions"],
                url["desk"],
                env["RASA_TOKEN"],
                log,
                env["JIKIMI_DATABASE_URL"],
                twilio,
                COUNSELLORS,
                load_settings(environ=env),
            )
        finally:
            # Ctrl-C must stop all three processes and free their ports.
            assert stop(process), f"jikimi run ignored Ctrl-C:\n{tail(log)}"
            for port in (
                env[name] for name in ("JIKIMI_RASA_PORT", "JIKIMI_ACTION_PORT", "JIKIMI_DESK_PORT")
            ):
                with socket.socket() as s:
                    assert s.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open"
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
