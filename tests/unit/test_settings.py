"""Settings: defaults, environment over .env, generated local secrets."""

from __future__ import annotations

import stat

import pytest

from jikimi.cli import endpoints_config, write_endpoints
from jikimi.settings import load_settings


def test_defaults_give_a_laptop_setup(tmp_path):
    settings = load_settings(environ={}, root=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'jikimi.db'}"
    assert settings.tracker_store_url == settings.database_url
    assert settings.lock_store_url is None
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.handoff_timeout_s == 300
    assert (settings.rasa_port, settings.action_port, settings.desk_port) == (5005, 5055, 8000)
    assert not settings.twilio_enabled


def test_local_secrets_are_generated_once_and_private(tmp_path):
    first = load_settings(environ={}, root=tmp_path)
    second = load_settings(environ={}, root=tmp_path)
    assert first.rasa_token == second.rasa_token and len(first.rasa_token) >= 32
    assert first.secret_key == second.secret_key
    for name in ("rasa_token", "secret_key"):
        mode = (tmp_path / "var" / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600


def test_environment_overrides_dotenv(tmp_path):
    (tmp_path / ".env").write_text("RASA_TOKEN=from-dotenv\nJIKIMI_HOST=0.0.0.0\n")
    settings = load_settings(environ={"RASA_TOKEN": "from-env"}, root=tmp_path)
    assert settings.rasa_token == "from-env"
    assert settings.host == "0.0.0.0"
    assert not (tmp_path / "var" / "rasa_token").exists()


def test_bad_number_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="JIKIMI_HANDOFF_TIMEOUT_S must be a whole number"):
        load_settings(environ={"JIKIMI_HANDOFF_TIMEOUT_S": "five"}, root=tmp_path)


def test_endpoints_file_builds_rasas_stores_on_postgres_and_redis(tmp_path):
    """The written endpoints file must be one Rasa itself accepts: build the SQL
    tracker store and the Redis lock store from it, against the real servers."""
    import asyncio

    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config

    from tests.unit.test_db import throwaway_postgres

    # A database of its own: one left over from an earlier run holds events
    # encrypted with that run's key, which the store rightly refuses to start on.
    with throwaway_postgres("jikimi_settings", migrate=False) as database:
        settings = load_settings(
            environ={
                "JIKIMI_TRACKER_STORE_URL": database,
                "JIKIMI_LOCK_STORE_URL": "redis://127.0.0.1:6379/2",
            },
            root=tmp_path,
        )
        path = write_endpoints(settings)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert endpoints_config(settings)["action_endpoint"] == {
            "url": "http://127.0.0.1:5055/webhook"
        }

        domain = Domain.empty()
        store = TrackerStore.create(read_endpoint_config(str(path), "tracker_store"), domain)
        assert isinstance(store, SQLTrackerStore)
        assert store.engine.dialect.name == "postgresql"
        sender = f"settings-test-{tmp_path.name}"
        tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen")])
        asyncio.run(store.save(tracker))
        assert asyncio.run(store.retrieve(sender)) is not None

        lock_store = LockStore.create(read_endpoint_config(str(path), "lock_store"))
        assert isinstance(lock_store, RedisLockStore)
        assert lock_store.red.ping()


def test_redis_password_and_db_are_passed_on(tmp_path):
    settings = load_settings(
        environ={"JIKIMI_LOCK_STORE_URL": "rediss://:secret@cache.internal:6380/3"},
        root=tmp_path,
    )
    assert endpoints_config(settings)["lock_store"] == {
        "type": "bot.lock_store.AtomicRedisLockStore",
        "url": "cache.internal",
        "port": 6380,
        "db": 3,
        "use_ssl": True,
        "password": "secret",
    }


def test_lock_store_must_be_redis(tmp_path):
    settings = load_settings(environ={"JIKIMI_LOCK_STORE_URL": "memcached://x"}, root=tmp_path)
    with pytest.raises(ValueError, match="redis://"):
        endpoints_config(settings)
