"""The real stack for the KakaoTalk tests: the Rasa server, the action server and
the desk started apart (`jikimi serve ...`, as production runs them, so a test
can freeze the action server to make Rasa slow), pointed at a fake Kakao
(tests/support/fake_kakao.py: Open Builder, the event API, callbacks) and a fake
Twilio (the counsellors' SMS), all on 127.0.0.1, stopped at the end."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple

import requests

from tests.support.fake_kakao import FakeKakao
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import Serving, serve, stack_env, urls

COUNSELLORS = ("+821090000011", "+821090000012")


@dataclass
class KakaoStack:
    rasa: Serving
    actions: Serving
    desk: Serving
    token: str
    settings: Any
    kakao: FakeKakao
    twilio: FakeTwilio
    counsellors: Tuple[str, ...]

    def tracker(self, sender: str) -> dict:
        answer = requests.get(
            f"{self.rasa.url}/conversations/{sender}/tracker",
            params={"token": self.token},
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()

    def sender_of(self, user: str) -> Optional[str]:
        from jikimi.db import kakao_sender_of, session_scope

        with session_scope(self.settings) as session:
            return kakao_sender_of(session, user)

    def logs(self) -> str:
        return "\n".join(s.output() for s in (self.rasa, self.actions, self.desk))

    @contextlib.contextmanager
    def slow_rasa(self, seconds: float) -> Iterator[None]:
        """Rasa waits for a frozen action server (SIGSTOP) for `seconds` after
        the block's first statement, then gets its answer (SIGCONT).

        Rasa keeps its connection to the action server open for 2 s after a
        call; a frozen Sanic would drop a kept-alive connection on waking (its
        own keep-alive timer ran out meanwhile), so we wait until Rasa has
        closed it and the slow call opens a new one."""
        time.sleep(2.5)
        self.actions.process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        try:
            yield
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        finally:
            self.actions.process.send_signal(signal.SIGCONT)

    def counsellor_sms(self, phone: str, body: str) -> None:
        answer = self.twilio.inbound(self.desk.url, phone, body)
        assert answer.status_code == 200, answer.text

    def ask_for_counsellor(self, user: str, text: str = "상담 선생님이랑 얘기하고 싶어요"):
        """The student asks for a person; the bot may first offer one (and page
        only on a yes): the offer's "연결" quick reply is tapped then. Returns
        the counsellor's SMS and the skill answers the student got."""
        counsellor = self.counsellors[0]
        before = len(self.twilio.to(counsellor))
        answers = [self.kakao.say(user, text)]
        for _ in range(2):
            try:
                message = self.twilio.wait_for_message(counsellor, "상담 요청", after=before,
                                                       timeout=6)  # fmt: skip
                return message.body, answers
            except AssertionError:
                yes = [t for t in self.kakao.offered(user) if "연결" in t]
                if not yes:
                    raise
                answers.append(self.kakao.say(user, yes[0]))
        message = self.twilio.wait_for_message(counsellor, "상담 요청", after=before)
        return message.body, answers

    def dump(self, sender: str) -> str:
        return json.dumps(self.tracker(sender), ensure_ascii=False)


@contextlib.contextmanager
def kakao_stack(tmp: Path, **settings: str) -> Iterator[KakaoStack]:
    """Fake Kakao and Twilio, a migrated database with two counsellors on call,
    and the three processes, until the block ends."""
    from jikimi.db import add_counsellor, session_scope, upgrade
    from jikimi.settings import load_settings

    with FakeKakao() as kakao, FakeTwilio() as twilio, contextlib.ExitStack() as running:
        env = stack_env(tmp, **twilio.env(), **kakao.env())
        url = urls(env)
        env.update(
            {
                "JIKIMI_PUBLIC_URL": url["desk"],
                "JIKIMI_SMS_RETRY_S": "1",
                "JIKIMI_HANDOFF_TIMEOUT_S": "600",
                # One counsellor's phone gets more than the usual share of SMS
                # a minute in these tests (and a student more KakaoTalk rings).
                "JIKIMI_SMS_PER_NUMBER_PER_MINUTE": "0",
                **settings,
            }
        )
        kakao.skill_url = f"{url['rasa']}/webhooks/kakao/skill"
        app_settings = load_settings(environ=env)
        upgrade(app_settings.database_url)
        with session_scope(app_settings) as session:
            for priority, phone in enumerate(COUNSELLORS, start=1):
                add_counsellor(session, f"상담{priority}", phone, priority=priority)
        actions = running.enter_context(serve("actions", env, tmp))
        rasa = running.enter_context(serve("rasa", env, tmp))
        desk = running.enter_context(serve("desk", env, tmp))
        yield KakaoStack(
            rasa, actions, desk, env["RASA_TOKEN"], app_settings, kakao, twilio, COUNSELLORS
        )
