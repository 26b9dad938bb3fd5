"""Scale-out fixtures: a throwaway PostgreSQL database and a Redis database number.

PostgreSQL: `jikimi_scale_<random>` on JIKIMI_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), migrated, dropped afterwards
(as tests/unit/test_db.py does). Redis: 127.0.0.1:6379 (JIKIMI_TEST_REDIS_URL),
database JIKIMI_TEST_REDIS_DB (default 11) for the lock store, and a socket.io
channel of this run's own (Redis pub/sub channels are shared by all database
numbers). Without a reachable server the tests are skipped, and say so.
"""

from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get(
    "JIKIMI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("JIKIMI_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("JIKIMI_TEST_REDIS_DB", "11"))


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test module."""
    psycopg2 = pytest.importorskip("psycopg2")
    from jikimi.db import dispose_engines, upgrade

    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {error}")
    admin.autocommit = True
    name = f"jikimi_scale_{secrets.token_hex(6)}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg2", database=name)
    url = url.render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="module")
def redis_db_url() -> str:
    """redis://host:port/N for this run's lock store (skips without Redis)."""
    redis = pytest.importorskip("redis")
    url = f"{REDIS_URL.rstrip('/')}/{REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {url}: {error}")
    return url
