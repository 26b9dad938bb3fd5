"""The scale-out settings (README "Production deployment"): Redis for socket.io,
the lock store Rasa is given, and processes on other hosts."""

from __future__ import annotations

import pytest

from jikimi.cli import endpoints_config
from jikimi.settings import load_settings


def settings(tmp_path, **environ):
    return load_settings(environ={"RASA_TOKEN": "t", **environ}, root=tmp_path)


def test_one_host_needs_no_scale_out_settings(tmp_path):
    local = settings(tmp_path)
    assert local.socketio_redis_url is None
    assert local.rasa_url == "http://127.0.0.1:5005"
    assert endpoints_config(local)["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook"}
    assert "lock_store" not in endpoints_config(local)


def test_several_hosts(tmp_path):
    spread = settings(
        tmp_path,
        JIKIMI_RASA_URL="http://rasa.internal:5005/",
        JIKIMI_ACTION_URL="http://actions.internal:5055/webhook",
        JIKIMI_LOCK_STORE_URL="redis://redis.internal:6379/1",
        JIKIMI_SOCKETIO_REDIS_URL="redis://redis.internal:6379/1",
        JIKIMI_SOCKETIO_CHANNEL="jikimi-district-7",
    )
    assert spread.rasa_url == "http://rasa.internal:5005"
    endpoints = endpoints_config(spread)
    assert endpoints["action_endpoint"] == {"url": "http://actions.internal:5055/webhook"}
    assert endpoints["lock_store"]["type"] == "bot.lock_store.AtomicRedisLockStore"
    assert endpoints["lock_store"]["url"] == "redis.internal"
    assert spread.socketio_redis_url == "redis://redis.internal:6379/1"
    assert spread.socketio_channel == "jikimi-district-7"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("JIKIMI_SOCKETIO_REDIS_URL", "127.0.0.1:6379", "redis://"),
        ("JIKIMI_RASA_URL", "rasa.internal:5005", "http:// or https://"),
        ("JIKIMI_ACTION_URL", "ftp://actions", "http:// or https://"),
    ],
)
def test_malformed_urls_are_a_clear_error(tmp_path, name, value, message):
    with pytest.raises(ValueError, match=name) as error:
        settings(tmp_path, **{name: value})
    assert message in str(error.value)
