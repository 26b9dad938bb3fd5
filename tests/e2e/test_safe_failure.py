"""Safe failure and limits on a real stack: the Rasa server and the action server
started apart (`jikimi serve rasa`, `jikimi serve actions`, as production runs
them), so the action server can be frozen and killed mid-conversation while the
Rasa server keeps talking.

Every request names its own client address in X-Real-IP (the stack trusts it,
as it would behind a reverse proxy: SANIC_REAL_IP_HEADER), so each test has its
own per-IP budget whatever the others sent.
"""

from __future__ import annotations

import itertools
import signal

import pytest
import requests

from bot.channels import rate_limited_reply
from jikimi import content
from tests.support.processes import serve, stack_env

APOLOGY = content.message("action_failed").text
SENDER_LIMIT = 8
IP_LIMIT = 12
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safe-failure")
    env = stack_env(
        tmp,
        JIKIMI_ACTION_TIMEOUT_S="3",
        JIKIMI_SENDER_MESSAGES_PER_MINUTE=str(SENDER_LIMIT),
        JIKIMI_IP_REQUESTS_PER_MINUTE=str(IP_LIMIT),
        SANIC_REAL_IP_HEADER="x-real-ip",
    )
    with serve("rasa", env, tmp) as rasa:
        yield {"env": env, "tmp": tmp, "rasa": rasa}


@pytest.fixture
def actions(stack):
    """A fresh action server per test (a test may freeze or kill it)."""
    with serve("actions", stack["env"], stack["tmp"]) as server:
        yield server
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)


class Client:
    """One student: one sender id, one address."""

    def __init__(self, rasa_url: str, sender: str) -> None:
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.sender = sender
        self.address = next(_addresses)

    def post(self, body, **kwargs) -> requests.Response:
        return requests.post(
            self.url, headers={"X-Real-IP": self.address}, timeout=60, **kwargs,
            **({"data": body} if isinstance(body, (bytes, str)) else {"json": body}),
        )  # fmt: skip

    def say(self, message: str) -> list:
        response = self.post({"sender": self.sender, "message": message})
        assert response.status_code == 200, response.text
        return [r.get("text", "") for r in response.json()]


def test_lessons_work_then_the_apology_when_the_action_server_hangs_or_dies(stack, actions):
    student = Client(stack["rasa"].url, "sf-lessons")
    assert any("범죄예요" in t for t in student.say("/ask_law")), "the action server works"

    actions.process.send_signal(signal.SIGSTOP)  # slow: accepts, never answers
    try:
        assert student.say("/ask_harm") == [APOLOGY]
    finally:
        actions.process.send_signal(signal.SIGCONT)

    actions.kill()  # down: connection refused
    assert student.say("/ask_law") == [APOLOGY]
    assert student.say("안녕")[0].startswith("안녕하세요, 저는 지킴이예요"), "domain replies go on"
    assert stack["rasa"].process.poll() is None


def test_quiz_interrupted_by_a_crash_answers_and_crisis_comes_first(stack, actions):
    student = Client(stack["rasa"].url, "sf-quiz")
    first = student.say("/start_quiz")
    assert any("퀴즈" in t for t in first), first
    actions.kill()

    answer = student.say("1번")
    assert answer == [APOLOGY], "one apology for the turn, however many actions failed"

    crisis = student.say("요즘 그냥 죽고싶어")
    assert all(n in crisis[0] for n in ("109", "112", "119")), crisis
    # The page needs the action server (one apology), the safety question does not.
    assert crisis[1:-1] in ([], [APOLOGY]) and "안전한가요" in crisis[-1], crisis

    threat = student.say("사진 뿌린다고 협박해요 돈 보내래요")
    assert "112" in threat[0] and "협박" in threat[0], threat


def test_the_apology_is_kind_and_gives_the_hotlines():
    for number in ("112", "119", "109", "1388"):
        assert number in APOLOGY
    assert APOLOGY.startswith("미안해요")


def test_a_sender_over_its_limit_gets_the_kind_message(stack, actions):
    student = Client(stack["rasa"].url, "sf-rate-sender")
    replies = [student.say("안녕") for _ in range(SENDER_LIMIT + 1)]
    assert all(r and r[0].startswith("안녕하세요") for r in replies[:SENDER_LIMIT])
    assert replies[-1] == [rate_limited_reply()]
    other = Client(stack["rasa"].url, "sf-rate-other")
    assert other.say("안녕")[0].startswith("안녕하세요")


def test_an_address_over_its_limit_gets_429_with_the_kind_message(stack, actions):
    address = next(_addresses)
    statuses = []
    for n in range(IP_LIMIT + 1):
        student = Client(stack["rasa"].url, f"sf-rate-ip-{n}")
        student.address = address
        statuses.append(student.post({"sender": student.sender, "message": "안녕"}))
    assert [r.status_code for r in statuses] == [200] * IP_LIMIT + [429]
    assert statuses[-1].json() == [{"text": rate_limited_reply()}]


def test_bodies_over_the_size_limit_are_refused_before_any_parsing(stack, actions):
    student = Client(stack["rasa"].url, "sf-big")
    response = student.post(b'{"sender": "sf-big", "message": "' + b"a" * 300_000 + b'"}')
    assert response.status_code == 413
    assert student.say("안녕")[0].startswith("안녕하세요")


def test_logs_hold_no_message_text_phone_numbers_or_tokens(stack, actions):
    """At the default level (INFO) nothing a student typed, no phone number and no
    token reaches the logs of either process, failures included."""
    rasa, env = stack["rasa"], stack["env"]
    student = Client(rasa.url, "sf-logs")
    typed = "내 번호는 010-2468-1357 메일은 qz9log@example.com 이야 합성 사진 때문에"
    student.say(typed)
    student.say("/ask_law")
    requests.get(f"{rasa.url}/status", params={"token": env["RASA_TOKEN"]}, timeout=10)
    requests.get(f"{rasa.url}/status", params={"token": "qz9wrongtoken"}, timeout=10)
    actions.kill()
    assert student.say(typed)  # answered, whatever the model makes of it
    assert student.say("/ask_law") == [APOLOGY]  # this one needed the action server

    logs = rasa.output() + actions.output()
    secrets = ("2468", "1357", "qz9log", "내 번호는", "합성 사진")
    secrets += (env["RASA_TOKEN"], "qz9wrongtoken")
    for leaked in secrets:
        assert leaked not in logs, leaked
    assert "Action server failed to run" in logs, "the failure itself is logged"
