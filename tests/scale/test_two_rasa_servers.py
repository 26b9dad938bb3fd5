"""Two Rasa servers on different ports, one action server, one PostgreSQL database
(tracker store, cases, handoffs) and one Redis (lock store, socket.io message
queue), as README "Production deployment" runs them behind a load balancer.

- A report form driven alternately through both servers keeps its state.
- A burst of messages for one sender, split over both servers, is processed one
  at a time (Redis lock store): the tracker is a serial history.
- A counsellor's words, triggered on one server, reach a widget student
  connected over socket.io to the other (Redis message queue).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Dict, List

import pytest
import requests
import socketio
from sqlalchemy import create_engine, select, text

from jikimi import content
from jikimi.db import Handoff, add_counsellor, sender_hash, session_scope
from jikimi.settings import Settings, load_settings
from tests.e2e.conftest import report_answers
from tests.support.processes import Serving, free_port, serve, stack_env

pytestmark = pytest.mark.slow

COUNSELLOR_PHONE = "010-5555-0101"


@dataclass
class Cluster:
    a: Serving
    b: Serving
    actions: Serving
    env: Dict[str, str]
    settings: Settings
    database_url: str

    @property
    def token(self) -> str:
        return self.env["RASA_TOKEN"]

    @property
    def widget_origin(self) -> str:
        return f"http://127.0.0.1:{self.env['JIKIMI_DESK_PORT']}"

    def say(self, server: Serving, sender: str, message: str) -> List[dict]:
        response = requests.post(
            f"{server.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=120,
        )
        response.raise_for_status()
        return response.json()

    def tracker(self, server: Serving, sender: str) -> dict:
        response = requests.get(
            f"{server.url}/conversations/{sender}/tracker",
            params={"token": self.token},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def trigger(self, server: Serving, sender: str, intent: str, entities=None) -> None:
        response = requests.post(
            f"{server.url}/conversations/{sender}/trigger_intent",
            params={"output_channel": "latest", "token": self.token},
            json={"name": intent, "entities": entities or {}},
            timeout=120,
        )
        response.raise_for_status()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_url, redis_db_url):
    tmp = tmp_path_factory.mktemp("scale")
    env = stack_env(
        tmp,
        JIKIMI_DATABASE_URL=postgres_url,
        JIKIMI_TRACKER_STORE_URL=postgres_url,
        JIKIMI_LOCK_STORE_URL=redis_db_url,
        JIKIMI_SOCKETIO_REDIS_URL=redis_db_url,
        JIKIMI_SOCKETIO_CHANNEL=f"jikimi-test-{secrets.token_hex(6)}",
    )
    env_b = {**env, "JIKIMI_RASA_PORT": str(free_port())}
    for name in ("actions", "a", "b"):
        (tmp / name).mkdir()
    with ExitStack() as stack:
        actions = stack.enter_context(serve("actions", env, tmp / "actions"))
        # Both Rasa servers load the model at the same time, as a deployment does.
        managers = [serve("rasa", env, tmp / "a"), serve("rasa", env_b, tmp / "b")]
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(manager.__enter__) for manager in managers]
        for manager, future in zip(managers, futures, strict=True):
            if future.exception() is None:
                stack.push(manager.__exit__)
        servers = [future.result() for future in futures]  # raises the first failure
        settings = load_settings(environ=env)
        yield Cluster(servers[0], servers[1], actions, env, settings, postgres_url)


def texts(replies: List[dict]) -> List[str]:
    return [r.get("text", "") for r in replies]


def test_report_form_alternating_between_servers_keeps_its_state(cluster):
    sender = "scale-report"
    a, b = cluster.a, cluster.b
    first = cluster.say(a, sender, "제 얼굴로 합성된 사진이 돌아다녀요")
    assert "잘못은 합성하고 퍼뜨린 사람에게 있어요" in texts(first)[0]
    assert "만 19세 미만" in texts(cluster.say(b, sender, "/start_report"))[0]
    answers = report_answers("https://t.me/scaletestroom/7", "반 단톡방에 합성 사진이 올라왔어요")
    for number, (answer, next_question) in enumerate(answers):
        server = a if number % 2 == 0 else b
        replies = cluster.say(server, sender, answer)
        assert next_question in " ".join(texts(replies)), (server.url, answer, texts(replies))
    summary = " ".join(texts(replies))
    assert "텔레그램" in summary and "같은 학교 친구" in summary
    saved = " ".join(texts(cluster.say(b, sender, "맞아요")))
    assert "저장했어요" in saved, saved
    code = re.search(r"JK-[0-9A-Z]{6}", saved).group(0)
    engine = create_engine(cluster.database_url, future=True)
    try:
        with engine.connect() as connection:
            platform = connection.execute(
                text("SELECT platform FROM cases WHERE code = :code"), {"code": code}
            ).scalar_one()
    finally:
        engine.dispose()
    assert platform == "telegram"
    # Either server reads the same conversation.
    assert cluster.tracker(a, sender)["events"] == cluster.tracker(b, sender)["events"]


def test_a_burst_for_one_sender_is_processed_one_message_at_a_time(cluster):
    """Four "더 알려줘" at once, split over both servers, after the law lesson.

    Processed one at a time, each sees the tracker the previous one left: the
    replies are the lesson's next three levels and then its end, each exactly
    once. Two servers working on the same tracker at once (no shared lock)
    would both give the same level, and one of the turns would be lost.
    """
    sender = "scale-burst"
    depths = content.lesson_depths("ask_law")
    cluster.say(cluster.a, sender, "합성만 해도 처벌돼?")
    burst = depths  # levels 1..depths-1, then the end
    start = threading.Barrier(burst)

    def more(number: int) -> List[str]:
        server = cluster.a if number % 2 == 0 else cluster.b
        start.wait(timeout=60)
        return texts(cluster.say(server, sender, "더 알려줘"))

    with ThreadPoolExecutor(burst) as pool:
        replies = list(pool.map(more, range(burst)))

    levels = {
        tuple(r.text for r in content.lesson("ask_law", "student", depth)): f"level {depth}"
        for depth in range(1, depths)
    }
    levels[(content.message("lesson_end").text,)] = "end"

    def label(reply: List[str]) -> str:
        return levels.get(tuple(reply), f"other: {' '.join(reply)[:60]}")

    expected = [f"level {depth}" for depth in range(1, depths)] + ["end"]
    assert sorted(label(reply) for reply in replies) == sorted(expected)

    # The stored conversation is a serial history: each message, then its own
    # replies, then the next message.
    events = cluster.tracker(cluster.b, sender)["events"]
    turns: List[List[str]] = []
    for event in events:
        if event["event"] == "user":
            turns.append([])
        elif event["event"] == "bot" and turns:
            turns[-1].append(event.get("text") or "")
    assert [label(turn) for turn in turns[1:]] == expected


def _received(replies: List[dict], predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((r for r in list(replies) if predicate(r)), None)
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"the widget student did not receive it; got {replies}")


def test_counsellor_words_reach_a_widget_student_on_the_other_server(cluster):
    with session_scope(cluster.settings) as session:
        add_counsellor(session, "상담 선생님", COUNSELLOR_PHONE)

    replies: List[dict] = []
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", replies.append)
    client.connect(
        cluster.b.url,
        headers={"Origin": cluster.widget_origin},
        transports=["polling"],
        wait_timeout=30,
    )
    try:
        confirmed: List[str] = []
        client.on("session_confirm", confirmed.append)
        # The server names the conversation (jikimi/sessions.py); its token is
        # the widget's credential, the part before the signature its sender id.
        client.emit("session_request", {"session_id": None})
        for _ in range(300):
            if confirmed:
                break
            time.sleep(0.1)
        assert confirmed, "no session_confirm from the socket.io channel"
        token = confirmed[0]
        session_id = token.rsplit(".", 1)[0]
        client.emit(
            "user_uttered",
            {"message": "상담 선생님이랑 얘기하고 싶어요", "session_id": token},
        )
        # Jikimi offers first and pages nobody before a yes.
        _received(replies, lambda r: "연결해 줄까요" in (r.get("text") or ""))
        client.emit("user_uttered", {"message": "네", "session_id": token})
        _received(replies, lambda r: "연결을 요청했어요" in (r.get("text") or ""))

        from jikimi import handoff

        with session_scope(cluster.settings) as session:
            code = session.execute(
                select(Handoff.code).where(
                    Handoff.sender_hash == sender_hash(session, session_id),
                    Handoff.state == "notified",
                )
            ).scalar_one()
        notices = handoff.handle_counsellor_sms(cluster.settings, COUNSELLOR_PHONE, f"수락 {code}")
        assert [n.intent for n in notices] == [handoff.ACCEPTED]

        # The desk would call whichever server the load balancer picks: here,
        # the one the student is NOT connected to.
        cluster.trigger(cluster.a, session_id, handoff.ACCEPTED)
        accepted = content.message("handoff_accepted").text
        _received(replies, lambda r: r.get("text") == accepted)

        words = "안녕하세요, 상담 선생님이에요. 천천히 이야기해 주세요."
        cluster.trigger(
            cluster.a, session_id, handoff.COUNSELLOR_MESSAGE, {"counsellor_text": words}
        )
        custom = _received(replies, lambda r: "custom" in r)
        assert custom["custom"] == {"from_counsellor": True, "text": words}
    finally:
        client.disconnect()
