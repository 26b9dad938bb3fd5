"""The production configuration of the Rasa server (JIKIMI_ENV=production), started
as production starts it (`jikimi serve rasa`): no REST channel, the HTTP API
behind the token, browsers only from the widget's origin, bodies size-limited,
and the widget's socket.io channel working."""

from __future__ import annotations

import pytest
import requests
import socketio

from tests.support.processes import serve, stack_env

WIDGET = "https://widget.jikimi.test"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def rasa(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("production")
    env = stack_env(tmp, JIKIMI_ENV="production", JIKIMI_WIDGET_ORIGIN=WIDGET)
    with serve("rasa", env, tmp) as server:
        server.token = env["RASA_TOKEN"]
        yield server


def test_the_rest_channel_is_off(rasa):
    response = requests.post(
        f"{rasa.url}/webhooks/rest/webhook", json={"sender": "p1", "message": "안녕"}, timeout=30
    )
    assert response.status_code == 404


def test_kakaotalk_refuses_everything_while_its_secret_is_unset(rasa):
    url = f"{rasa.url}/webhooks/kakao/skill"
    body = {"userRequest": {"utterance": "안녕", "user": {"id": "bu1", "type": "botUserKey"}}}
    for headers in ({}, {"X-Jikimi-Kakao-Secret": ""}, {"X-Jikimi-Kakao-Secret": "guess"}):
        assert requests.post(url, json=body, headers=headers, timeout=30).status_code == 403


def test_the_http_api_refuses_without_the_token(rasa):
    for params in ({}, {"token": "wrong"}, {"token": ""}):
        assert requests.get(f"{rasa.url}/status", params=params, timeout=10).status_code == 401
        parse = requests.post(
            f"{rasa.url}/model/parse", params=params, json={"text": "안녕"}, timeout=10
        )
        assert parse.status_code == 401
    tracker = requests.get(f"{rasa.url}/conversations/p1/tracker", timeout=10)
    assert tracker.status_code == 401
    assert requests.get(f"{rasa.url}/status", params={"token": rasa.token}, timeout=10).ok


def test_cors_names_only_the_widget_origin(rasa):
    def allowed(origin: str):
        response = requests.options(
            f"{rasa.url}/model/parse",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            timeout=10,
        )
        return response.headers.get("Access-Control-Allow-Origin")

    assert allowed(WIDGET) == WIDGET
    assert allowed(EVIL) is None


def test_socketio_refuses_pages_of_other_origins(rasa):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(rasa.url, headers={"Origin": EVIL}, transports=["polling"], wait_timeout=30)
    client.disconnect()
    handshake = requests.get(
        f"{rasa.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": WIDGET}, timeout=10
    )
    assert handshake.status_code == 200
    # Exactly once: two Access-Control-Allow-Origin headers make browsers refuse.
    assert handshake.headers.get("Access-Control-Allow-Origin") == WIDGET


def test_the_widget_channel_answers_from_its_origin(rasa):
    client = socketio.Client(reconnection=False)
    replies = []
    client.on("bot_uttered", replies.append)
    client.connect(rasa.url, headers={"Origin": WIDGET}, transports=["polling"], wait_timeout=30)
    try:
        client.emit("session_request", {"session_id": "prod-widget-1"})
        client.sleep(1)
        client.emit("user_uttered", {"message": "안녕", "session_id": "prod-widget-1"})
        for _ in range(60):
            if replies:
                break
            client.sleep(0.5)
        client.emit("user_uttered", {"message": 5, "session_id": "prod-widget-1"})
        for _ in range(60):
            if len(replies) >= 2:
                break
            client.sleep(0.5)
    finally:
        client.disconnect()
    assert replies and "지킴이" in replies[0]["text"], replies
    assert "읽지 못했어요" in replies[-1]["text"], replies


def test_bodies_over_the_limit_are_refused(rasa):
    response = requests.post(
        f"{rasa.url}/model/parse",
        params={"token": rasa.token},
        data=b'{"text": "' + b"a" * 300_000 + b'"}',
        timeout=30,
    )
    assert response.status_code == 413
