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
from typing import Iterator

import pytest

REDIS_URL = os.environ.get("JIKIMI_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("JIKIMI_TEST_REDIS_DB", "11"))


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test module."""
    from tests.unit.test_db import throwaway_postgres

    with throwaway_postgres("jikimi_scale") as url:
        yield url


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
