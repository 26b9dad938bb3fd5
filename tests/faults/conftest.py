"""Fault tests: the real stack (`jikimi run`) on a PostgreSQL and a Redis of
their own, which the tests kill and bring back (tests/faults/helpers.py).

One PostgreSQL, one Redis and one stack per test session; every test leaves
them running for the next (`healthy`). Skipped, and saying so, when
PostgreSQL's server binaries or redis-server are not installed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.faults.helpers import (
    FaultStack,
    PrivatePostgres,
    PrivateRedis,
    fault_stack,
    forget_handoffs,
    pg_bin,
)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Iterator[PrivatePostgres]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL's server binaries (initdb, postgres) are not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root needs a 'postgres' user to run initdb")
    # Not under pytest's temporary directory: that one is private to this user,
    # and the server may run as another ("postgres").
    directory = Path(tempfile.mkdtemp(prefix="jikimi-faults-pg-"))
    server = PrivatePostgres(directory / "cluster")
    try:
        server.init()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(Path(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, postgres, redis_server) -> Iterator[FaultStack]:
    with fault_stack(Path(tmp_path_factory.mktemp("faults")), postgres, redis_server) as running:
        yield running


@pytest.fixture
def healthy(stack) -> Iterator[FaultStack]:
    """The stack, with PostgreSQL and Redis brought back after the test if it
    killed them, and all three processes answering."""
    yield stack
    if stack.postgres.process is None or stack.postgres.process.poll() is not None:
        stack.postgres.start()
    if stack.redis.process is None or stack.redis.process.poll() is not None:
        stack.redis.start()
    stack.wait_ready()
    forget_handoffs(stack.settings)
