"""Fault tests' helpers: the real stack (`jikimi run`) on a PostgreSQL and a Redis of
their own, which the tests kill and bring back.

The machine's PostgreSQL (5432) and Redis (6379) are never touched: a
PostgreSQL cluster is made with `initdb` in a temporary directory (as the
`postgres` user when the tests run as root, since PostgreSQL refuses root) and
a Redis is started without persistence, each on a free port. One of each, and
one stack, per test session: every test leaves them running and healthy for the
next. Everything is stopped at the end, ports freed.

Skipped, and saying so, when PostgreSQL's server binaries or redis-server are
not installed.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import requests

from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import free_port, stack_env, start_run, stop, tail, urls

HANDOFF_TIMEOUT_S = 60
COUNSELLORS = ("+821090000101", "+821090000102")


def pg_bin() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _wait_port(port: int, timeout: float, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            is_up = s.connect_ex(("127.0.0.1", port)) == 0
        if is_up == up:
            return
        time.sleep(0.1)
    raise AssertionError(f"port {port} not {'up' if up else 'down'} after {timeout}s")


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a free port.

    fsync is off (the tests kill the server, not the machine: the OS keeps what
    was written), synchronous commit stays on: a commit the server acknowledged
    survives its kill, as in production."""

    def __init__(self, directory: Path) -> None:
        self.bin = pg_bin()
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.user: Optional[str] = None
        if os.geteuid() == 0:
            self.user = "postgres"
        self.process: Optional[subprocess.Popen] = None

    def _as_user(self) -> Dict:
        """Popen options that run a command as the server's user: set in the
        child itself (no runuser in between), so that the postmaster is our own
        child, killed and reaped by us."""
        if not self.user:
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": []}

    def init(self) -> "PrivatePostgres":
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for directory in (self.directory.parent, self.directory):
                os.chown(directory, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "jikimi",
             "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"],
            check=True, stdout=subprocess.DEVNULL, cwd=self.directory, **self._as_user(),
        )  # fmt: skip
        self.start()
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "jikimi", "jikimi"],
            check=True,
        )  # fmt: skip
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://jikimi@127.0.0.1:{self.port}/jikimi"

    def start(self) -> None:
        log = open(self.directory / "postgres.log", "a")
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(self.directory), "-c", "fsync=off",
             "-c", "full_page_writes=off"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.directory,
            **self._as_user(),
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", "jikimi", "-d", "postgres"],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            if ready.returncode == 0:
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    "PostgreSQL did not start:\n" + (self.directory / "postgres.log").read_text()
                )
            time.sleep(0.2)
        raise AssertionError("PostgreSQL not ready after 60 s")

    def kill(self) -> None:
        """Gone at once, as a crashed or unreachable database server is: the
        postmaster and every backend (its process group) killed."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        # Its backends go with the postmaster; wait until the port is closed.
        _wait_port(self.port, 30, up=False)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class PrivateRedis:
    """A redis-server without persistence, on a free port."""

    def __init__(self, directory: Path, *extra: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.extra = list(extra)
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.directory), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait_port(self.port, 30)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        _wait_port(self.port, 30, up=False)

    stop = kill


@dataclass
class FaultStack:
    process: subprocess.Popen
    env: Dict[str, str]
    log: Path
    twilio: FakeTwilio
    postgres: PrivatePostgres
    redis: PrivateRedis
    settings: object
    urls: Dict[str, str] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return self.urls["rasa"]

    @property
    def desk_url(self) -> str:
        return self.urls["desk"]

    @property
    def token(self) -> str:
        return self.env["RASA_TOKEN"]

    def say(self, sender: str, message: str, timeout: float = 60) -> list:
        answer = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )
        answer.raise_for_status()
        return answer.json()

    def sms(self, from_: str, body: str) -> requests.Response:
        """An inbound SMS, signed as Twilio signs it, to the desk."""
        return self.twilio.inbound(self.desk_url, from_, body)

    def children(self) -> Dict[str, int]:
        """The pids of `jikimi serve rasa|actions|desk` under this `jikimi run`."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != self.process.pid:
                continue
            words = [w.decode(errors="replace") for w in cmdline]
            if "serve" in words:
                found[words[words.index("serve") + 1]] = int(entry.name)
        return found

    def wait_ready(self, timeout: float = 300) -> None:
        """Until all three answer again (after a restart)."""
        from tests.support.processes import ready_checks

        deadline = time.monotonic() + timeout
        pending = dict(ready_checks(self.env))
        while pending and time.monotonic() < deadline:
            for name, check in list(pending.items()):
                try:
                    if check():
                        pending.pop(name)
                except requests.RequestException:
                    pass
            time.sleep(0.5)
        assert not pending, f"{sorted(pending)} not answering:\n{tail(self.log)}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def fault_stack(tmp: Path, postgres: PrivatePostgres, redis: PrivateRedis, **extra: str):
    twilio = FakeTwilio().start()
    env = stack_env(tmp, **twilio.env())
    address = urls(env)
    env.update(
        {
            "JIKIMI_DATABASE_URL": postgres.url,
            "JIKIMI_LOCK_STORE_URL": redis.url,
            "JIKIMI_SOCKETIO_REDIS_URL": redis.url,
            "JIKIMI_SOCKETIO_CHANNEL": "jikimi-faults-" + os.urandom(4).hex(),
            "JIKIMI_PUBLIC_URL": address["desk"],
            "JIKIMI_HANDOFF_TIMEOUT_S": str(HANDOFF_TIMEOUT_S),
            "JIKIMI_SMS_RETRY_S": "1",
            # A client address per test conversation (X-Real-IP), as behind a proxy.
            "SANIC_REAL_IP_HEADER": "x-real-ip",
            **extra,
        }
    )
    log = tmp / "run.log"
    try:
        process = start_run(env, log)
        try:
            from jikimi.settings import load_settings

            settings = load_settings(environ=env)
            _counsellors_on_call(settings)
            yield FaultStack(process, env, log, twilio, postgres, redis, settings, address)
        finally:
            assert stop(process), f"jikimi run ignored Ctrl-C:\n{tail(log)}"
            from jikimi.desk.sms import journal_dir

            shutil.rmtree(journal_dir(settings), ignore_errors=True)  # var/ is shared
            for name in ("JIKIMI_RASA_PORT", "JIKIMI_ACTION_PORT", "JIKIMI_DESK_PORT"):
                with socket.socket() as s:
                    assert s.connect_ex(("127.0.0.1", int(env[name]))) != 0, f"{name} still open"
    finally:
        twilio.stop()
        from jikimi.db import dispose_engines

        dispose_engines()


def _counsellors_on_call(settings) -> None:
    from jikimi.db import add_counsellor, session_scope

    with session_scope(settings) as session:
        for priority, phone in enumerate(COUNSELLORS, start=1):
            add_counsellor(session, f"상담{priority}", phone, priority=priority)


def forget_handoffs(settings) -> None:
    """Every handoff deleted (their counsellor SMS are sent or moot), so that
    the page caps of one test do not hold back the next one's pages."""
    from sqlalchemy import delete

    from jikimi.db import Handoff, session_scope

    with session_scope(settings) as session:
        session.execute(delete(Handoff))


class Widget:
    """The web widget's side of socket.io, as jikimi/desk/static/widget.js
    speaks it: session_request with the token it was given (none at first),
    user_uttered acknowledged with {"ok": ..., "retry_in": ...}, bot_uttered."""

    def __init__(self, stack: FaultStack, address: str = "198.51.100.1", token=None) -> None:
        import queue

        import socketio

        self.inbox: "queue.Queue[dict]" = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self._confirmed: "queue.Queue[str]" = queue.Queue()
        self.client.on("bot_uttered", self.inbox.put)
        self.client.on("session_confirm", self._confirmed.put)
        self.client.connect(
            stack.rasa_url,
            socketio_path="socket.io",
            wait_timeout=30,
            headers={"X-Real-IP": address},
        )
        self.token = self.request_session(token)

    def request_session(self, token=None, timeout: float = 30):
        import queue

        self.client.emit("session_request", {"session_id": token})
        try:
            self.token = self._confirmed.get(timeout=timeout)
        except queue.Empty:
            return None
        return self.token

    @property
    def sender_id(self) -> str:
        return self.token.rsplit(".", 1)[0]

    def send(self, text: str, timeout: float = 120) -> dict:
        """Emits one message and returns the server's acknowledgement."""
        return (
            self.client.call(
                "user_uttered", {"message": text, "session_id": self.token}, timeout=timeout
            )
            or {}
        )

    def send_until_handled(self, text: str, give_up_s: float = 240) -> int:
        """Sends as the widget does: again after `retry_in` until it is handled;
        returns how many times it was sent."""
        deadline = time.monotonic() + give_up_s
        tries = 0
        while True:
            tries += 1
            ack = self.send(text)
            if ack.get("ok", True):
                return tries
            assert time.monotonic() < deadline, f"not handled after {tries} tries: {ack}"
            time.sleep(min(float(ack.get("retry_in", 1)), 3))

    def drain(self, wait: float = 0.5) -> List[str]:
        """Texts received so far (waiting `wait` seconds for stragglers)."""
        import queue

        texts = []
        deadline = time.monotonic() + wait
        while True:
            try:
                message = self.inbox.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return texts
            texts.append(message.get("text") or str(message.get("custom") or ""))

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001 - already gone
            pass


class RawSocket:
    """A socket.io client over a websocket, written out (engine.io 4, socket.io
    5 protocol), for floods: python-socketio's async client needs a newer
    aiohttp than Rasa allows, and its polling client batches what a flood
    sends one by one. `emit(event, data)` returns the acknowledgement."""

    def __init__(self, url: str, address: str) -> None:
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.address = address
        self.received: List = []
        self._acks: Dict[int, "object"] = {}
        self._next = 0

    async def __aenter__(self) -> "RawSocket":
        import asyncio

        import aiohttp

        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self.url, headers={"X-Real-IP": self.address})
        opened = await self._ws.receive_str()
        assert opened.startswith("0"), opened
        await self._ws.send_str("40")
        self._confirmed: "asyncio.Queue[str]" = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        import json as json_module

        async for message in self._ws:
            data = message.data
            if not isinstance(data, str):
                continue
            if data == "2":
                await self._ws.send_str("3")
            elif data.startswith("43"):
                digits = "".join(itertools.takewhile(str.isdigit, data[2:]))
                payload = json_module.loads(data[2 + len(digits) :])
                future = self._acks.pop(int(digits), None)
                if future is not None and not future.done():
                    future.set_result(payload[0] if payload else None)
            elif data.startswith("42"):
                event, *args = json_module.loads(data[2:])
                if event == "session_confirm":
                    self._confirmed.put_nowait(args[0])
                else:
                    self.received.append((event, args[0] if args else None))

    async def session(self, token=None, timeout: float = 30):
        import asyncio

        await self.emit("session_request", {"session_id": token}, ack=False)
        try:
            return await asyncio.wait_for(self._confirmed.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def emit(self, event: str, data, ack: bool = True):
        """Sends one event; with `ack`, a future for its acknowledgement."""
        import asyncio
        import json as json_module

        body = json_module.dumps([event, data], ensure_ascii=False)
        if not ack:
            await self._ws.send_str("42" + body)
            return None
        number = self._next
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self._acks[number] = future
        await self._ws.send_str(f"42{number}{body}")
        return future

    async def __aexit__(self, *exc) -> None:
        self._reader.cancel()
        await self._ws.close()
        await self._session.close()
