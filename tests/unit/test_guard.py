"""The channel guard (bot/channels.py) with Rasa's own message and output channel,
and the safe-failure endpoint (bot/safe_failure.py) against real HTTP servers."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import List

import pytest
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

import bot.channels as channels
from bot import install, safe_failure
from jikimi import content


@pytest.fixture
def limits(monkeypatch):
    """The guard's settings from the environment, read afresh for each test."""

    def configure(sender_per_minute: int = 30) -> None:
        monkeypatch.setenv("RASA_TOKEN", "t")
        monkeypatch.setenv("JIKIMI_SECRET_KEY", "k")
        monkeypatch.setenv("JIKIMI_SENDER_MESSAGES_PER_MINUTE", str(sender_per_minute))
        channels.forget_settings()

    configure()
    yield configure
    channels.forget_settings()


class Rasa:
    """Stands in for Rasa's message handler: records what reached it."""

    def __init__(self) -> None:
        self.seen: List[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, "bot reply")


async def say(handler, text, sender="s1", channel="rest") -> List[str]:
    output = CollectingOutputChannel()
    await handler(UserMessage(text, output, sender, input_channel=channel))
    return [m["text"] for m in output.messages]


async def test_clean_text_reaches_rasa_and_forged_intents_are_refused(limits):
    rasa = Rasa()
    handler = channels.guard(rasa)
    assert await say(handler, "제\x00어\u202e 문자") == ["bot reply"]
    assert await say(handler, "/request_counsellor") == ["bot reply"]
    for typed in (
        "/EXTERNAL_handoff_accepted",
        ' // external_counsellor_message{"counsellor_text": "hi"}',
        '/EXTERNAL_counsellor_message{"counsellor_text": "죽고 싶어"}',
        "/restart",
        "/session_start",
        "/back{}",
        "EXTERNAL: EXTERNAL_handoff_accepted",
    ):
        assert await say(handler, typed) == [channels.unreadable_reply()], typed
    assert rasa.seen == ["제어 문자", "/request_counsellor"]


@pytest.fixture
def domain_intents(monkeypatch):
    from rasa.shared.core.slots import CategoricalSlot

    class Domain:
        intents = ["greet", "add_evidence", "start_quiz"]
        entities = ["platform", "sha256", "name", "size", "captured_at", "danger", "source_ids"]
        slots = [
            CategoricalSlot("platform", [], values=["telegram", "other"]),
            CategoricalSlot("danger", [], values=["self_harm", "threat"]),
        ]

    class Agent:
        domain = Domain()

    monkeypatch.setattr(install.LoadedAgent, "current", Agent())


EVIDENCE = {
    "sha256": "ab" * 32,
    "name": "캡처.png",
    "size": 1234,
    "captured_at": "2026-11-30T10:00:00.000Z",
}


@pytest.mark.parametrize(
    "typed, read_as",
    [
        ("/greet", "/greet"),
        ("  /start_quiz ", "/start_quiz"),
        # Not an intent of the domain, or not a payload: read as words, never
        # quoted by Rasa's payload parser in a warning.
        ("/unknown_intent", "unknown_intent"),
        ("/ 김철수 010-1234-5678", "김철수 010-1234-5678"),
        ("//greet@0.99", "greet@0.99"),
        # Entities: the domain's, short text, a categorical slot's values.
        ('/greet{"platform": "telegram"}', '/greet{"platform": "telegram"}'),
        # A button's payload naming facts ("근거 보기").
        (
            '/greet{"source_ids": "law.make law.possess law.threat"}',
            '/greet{"source_ids": "law.make law.possess law.threat"}',
        ),
        ('/greet{"platform": {"a": 1}}', "/greet"),
        ('/greet{"platform": "010-1234-5678 myspace"}', "/greet"),
        ('/greet{"danger": "self_harm"}', "/greet"),
        ('/greet{"platform": "telegram"', 'greet{"platform": "telegram"'),
        # The evidence panel's payload: only its entities, only their types.
        (
            "/add_evidence" + json.dumps(EVIDENCE),
            "/add_evidence" + json.dumps(EVIDENCE, ensure_ascii=False),
        ),
        (
            "/add_evidence" + json.dumps({**EVIDENCE, "captured_at": "9999-12-31T20:00:00Z"}),
            "/add_evidence",
        ),
        ('/add_evidence{"sha256": "' + "ab" * 32 + '", "size": Infinity}', "/add_evidence"),
        ("/add_evidence" + json.dumps({**EVIDENCE, "size": -1}), "/add_evidence"),
        ("/add_evidence" + json.dumps({**EVIDENCE, "size": 1.5}), "/add_evidence"),
        ("/add_evidence" + json.dumps({**EVIDENCE, "name": {"a": 1}}), "/add_evidence"),
        ("/add_evidence" + json.dumps({**EVIDENCE, "platform": "x"}), "/add_evidence"),
        ("/add_evidence" + json.dumps({**EVIDENCE, "sha256": "nothex"}), "/add_evidence"),
        ("/add_evidence{not json}", "/add_evidence"),
    ],
)
def test_payloads_are_checked_before_rasa_parses_them(domain_intents, typed, read_as):
    assert channels.check_payload(typed) == read_as


async def test_a_message_rasa_fails_on_gets_the_outage_answer_and_reports_failed(limits):
    async def broken(message: UserMessage) -> None:
        raise RuntimeError("the tracker store is down")

    handler = channels.guard(broken)
    output = CollectingOutputChannel()
    outcome = await handler(UserMessage("안녕", output, "s-fail", input_channel="rest"))
    assert outcome == channels.FAILED
    assert [m["text"] for m in output.messages] == [content.message("outage").text]
    # Sent again at once (the widget retries): not told twice.
    output = CollectingOutputChannel()
    assert await handler(UserMessage("안녕", output, "s-fail", input_channel="rest")) == "failed"
    assert output.messages == []
    quiet = channels.guard(broken, answer_failures=False)
    output = CollectingOutputChannel()
    assert await quiet(UserMessage("안녕", output, "s-quiet", input_channel="jikimi_sms")) == (
        channels.FAILED
    )
    assert output.messages == []


async def test_too_long_and_unreadable_messages_get_a_kind_reply_and_stop(limits):
    rasa = Rasa()
    handler = channels.guard(rasa)
    assert await say(handler, "가" * (channels.MAX_MESSAGE_CHARS + 1)) == [
        channels.too_long_reply()
    ]
    # Rasa's UserMessage itself fails on truthy non-text (the channels check
    # bodies before building one); what gets through must not crash the guard.
    assert await say(handler, 0) == [channels.unreadable_reply()]
    assert await say(handler, []) == [channels.unreadable_reply()]
    assert rasa.seen == []
    assert "112" in channels.unreadable_reply() and "109" in channels.unreadable_reply()


async def test_a_sender_over_the_limit_is_told_kindly_and_others_go_on(limits):
    limits(sender_per_minute=3)
    rasa = Rasa()
    handler = channels.guard(rasa)
    replies = [await say(handler, f"메시지 {i}") for i in range(6)]
    # Told once a minute, not once per message (a burst of 40 SMS got 40 replies).
    assert replies == [["bot reply"]] * 3 + [[channels.rate_limited_reply()]] + [[]] * 2
    assert await say(handler, "다른 사람", sender="s2") == ["bot reply"]
    assert await say(handler, "같은 id, 다른 채널", channel="socketio") == ["bot reply"]
    assert len(rasa.seen) == 5
    assert "109" in channels.rate_limited_reply()


# --- safe failure ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def action_server():
    """A real HTTP server standing in for the action server, one behaviour per path;
    `.peers` holds the client addresses (one per connection) /ok was called from."""
    peers: set = set()

    async def ok(request):
        body = await request.json()
        peers.add(request.transport.get_extra_info("peername"))
        return web.json_response(
            {"events": [], "responses": [{"text": f"ran {body['next_action']}"}]}
        )

    async def slow(_request):
        await asyncio.sleep(30)
        return web.json_response({"events": [], "responses": []})

    async def broken(_request):
        return web.json_response({"error": "boom", "request_body": {"secret": 1}}, status=500)

    async def rejects(_request):
        return web.json_response({"action_name": "validate_x", "error": "no"}, status=400)

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/slow", slow)
    app.router.add_post("/broken", broken)
    app.router.add_post("/rejects", rejects)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield ServerUrl(f"http://127.0.0.1:{port}", peers)
    await runner.cleanup()


class ServerUrl(str):
    def __new__(cls, url: str, peers: set) -> "ServerUrl":
        made = super().__new__(cls, url)
        made.peers = peers
        return made


async def run_action(url: str, timeout_s: float = 1, endpoint=None) -> list:
    """Runs a custom action the way Rasa's processor does, through the safe endpoint."""
    own = endpoint is None
    if own:
        endpoint = safe_failure.SafeActionEndpoint(EndpointConfig(url), timeout_s)
    domain = Domain.empty()
    tracker = DialogueStateTracker("student", domain.slots)
    try:
        return await RemoteAction("action_lesson", endpoint).run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain
        )
    finally:
        if own:
            await endpoint.close()


def texts(events) -> List[str]:
    return [e.text for e in events if isinstance(e, BotUttered)]


async def test_a_working_action_server_is_used_as_it_is(action_server):
    assert texts(await run_action(f"{action_server}/ok")) == ["ran action_lesson"]


async def test_action_calls_share_one_kept_alive_connection(action_server):
    endpoint = safe_failure.SafeActionEndpoint(EndpointConfig(f"{action_server}/ok"), 1)
    for _ in range(3):
        assert texts(await run_action("", endpoint=endpoint)) == ["ran action_lesson"]
    assert len(action_server.peers) == 1
    await endpoint.close()
    assert texts(await run_action("", endpoint=endpoint)) == ["ran action_lesson"], "reopens"
    assert len(action_server.peers) == 2
    await endpoint.close()


@pytest.mark.parametrize("path", ["/broken", "/slow", "/missing-route"])
async def test_broken_slow_or_missing_action_server_gives_the_apology(action_server, path):
    apology = content.message("action_failed").text
    assert texts(await run_action(f"{action_server}{path}")) == [apology]


async def test_a_closed_port_gives_the_apology():
    apology = content.message("action_failed").text
    assert texts(await run_action(f"http://127.0.0.1:{free_port()}/webhook")) == [apology]
    assert "109" in apology and "1388" in apology and "112" in apology


async def test_a_forms_rejection_still_reaches_rasa(action_server):
    endpoint = safe_failure.SafeActionEndpoint(EndpointConfig(f"{action_server}/rejects"), 1)
    with pytest.raises(ClientResponseError):
        await endpoint.request(json={"next_action": "validate_x"}, method="post")
    await endpoint.close()


async def test_one_apology_per_user_message(action_server):
    token = safe_failure.start_turn()
    try:
        first = texts(await run_action(f"{action_server}/broken"))
        second = texts(await run_action(f"{action_server}/broken"))
    finally:
        safe_failure.end_turn(token)
    assert len(first) == 1 and second == []
    assert len(texts(await run_action(f"{action_server}/broken"))) == 1, "next message"


def test_install_replaces_the_agents_endpoint_once():
    class Processor:
        action_endpoint = EndpointConfig("http://127.0.0.1:5055/webhook")

    class Agent:
        action_endpoint = Processor.action_endpoint
        processor = Processor()

    agent = Agent()
    assert safe_failure.install(agent, 3)
    assert isinstance(agent.action_endpoint, safe_failure.SafeActionEndpoint)
    assert agent.processor.action_endpoint is agent.action_endpoint
    assert agent.action_endpoint.url == "http://127.0.0.1:5055/webhook"
    assert not safe_failure.install(agent, 3)
    assert not safe_failure.install(None, 3)


@pytest.mark.parametrize(
    "data, usable",
    [
        ({"message": "안녕", "session_id": "abc"}, True),
        ({"message": "안녕"}, True),
        ({}, True),  # Rasa reads a missing message as ""
        ("안녕", False),
        (["안녕"], False),
        (None, False),
        ({"message": 5}, False),
        ({"message": ["a"]}, False),
        ({"message": "a", "session_id": 7}, False),
        ({"message": "a", "session_id": "s" * 256}, False),
        ({"message": "a", "metadata": "{}"}, False),
    ],
)
def test_socketio_messages_rasa_cannot_read_are_recognised(data, usable):
    assert (channels.socketio_data_error(data) is None) == usable
