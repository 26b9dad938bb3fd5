"""Redis AUTH and TLS (issue 15, item 7) against a real redis-server of the
test's own: TLS only (no plain port), a password, a certificate signed by a CA
made here. The lock store and the socket.io queue connect with the settings
`jikimi` turns into their options; without the password or the CA they fail.
Skipped, saying so, without redis-server (built with TLS) or openssl."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.processes import free_port

PASSWORD = "test-" + Fernet.generate_key().decode()[:16]
KEY = Fernet.generate_key().decode()


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.skip("redis-server or openssl is not installed")
    tmp = Path(tmp_path_factory.mktemp("redis-tls"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=tmp)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=tmp)  # fmt: skip
    (tmp / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "san.cnf", "-out", "server.pem",
            cwd=tmp)  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", "server.pem", "--tls-key-file", "server.key",
         "--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no",
         "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"],
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        import socket

        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.skip(f"redis-server without TLS: {process.stdout.read()[-300:]!r}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield port, tmp / "ca.pem"
    finally:
        process.kill()
        process.wait(timeout=10)


def settings_for(tmp_path, port, ca, password=PASSWORD):
    from jikimi.settings import load_settings

    environ = {
        "RASA_TOKEN": "t",
        "JIKIMI_SECRET_KEY": KEY,
        "JIKIMI_LOCK_STORE_URL": f"rediss://127.0.0.1:{port}/0",
        "JIKIMI_SOCKETIO_REDIS_URL": f"rediss://127.0.0.1:{port}/0",
        "JIKIMI_REDIS_CA_CERTS": str(ca),
    }
    if password:
        environ["JIKIMI_REDIS_PASSWORD"] = password
    return load_settings(environ=environ, root=tmp_path)


def lock_store(settings):
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import EndpointConfig

    from jikimi.cli import endpoints_config

    entry = dict(endpoints_config(settings)["lock_store"])
    return LockStore.create(EndpointConfig(url=entry.pop("url"), **entry))


def test_the_lock_store_speaks_tls_with_the_password(tls_redis, tmp_path):
    port, ca = tls_redis
    store = lock_store(settings_for(tmp_path, port, ca))
    assert store.red.ping()
    ticket = store.issue_ticket("tls-conversation", 30)
    assert store.get_lock("tls-conversation").is_locked(ticket + 1)
    store.finish_serving("tls-conversation", ticket)


def test_without_the_password_redis_refuses(tls_redis, tmp_path):
    import redis

    port, ca = tls_redis
    store = lock_store(settings_for(tmp_path, port, ca, password=None))
    with pytest.raises(redis.exceptions.AuthenticationError):
        store.red.ping()


async def test_the_socketio_queue_crosses_tls_sealed(tls_redis, tmp_path):
    import redis.asyncio as aioredis

    from jikimi.socketio_queue import SealedRedisManager, redis_options

    port, ca = tls_redis
    settings = settings_for(tmp_path, port, ca)
    manager = SealedRedisManager.from_settings(settings)
    listener = aioredis.Redis.from_url(settings.socketio_redis_url, **redis_options(settings))
    pubsub = listener.pubsub()
    await pubsub.subscribe(settings.socketio_channel)
    await asyncio.sleep(0.2)
    await manager._publish({"method": "emit", "data": ["JK-7F3Q2M"]})
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message:
            break
    assert message and b"JK-7F3Q2M" not in message["data"]
    assert manager.open(message["data"]) == {"method": "emit", "data": ["JK-7F3Q2M"]}
    await pubsub.close()
    for client in (listener, manager.redis):
        await client.close()
        await client.connection_pool.disconnect()
