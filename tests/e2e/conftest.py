"""Starts the whole assistant (`jikimi run`, as `make run` does) once per session."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "jikimi.tar.gz"


@dataclass
class Stack:
    process: subprocess.Popen
    rasa_url: str
    action_url: str
    desk_url: str
    token: str
    log: Path
    database_url: str

    def say(self, sender: str, message: str) -> list:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jikimi run exited early:\n{log.read_text()[-4000:]}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} not up after {timeout}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run the tests with `make test`, which trains it.")
    tmp = tmp_path_factory.mktemp("stack")
    ports = {name: _free_port() for name in ("rasa", "action", "desk")}
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "JIKIMI_RASA_PORT": str(ports["rasa"]),
        "JIKIMI_ACTION_PORT": str(ports["action"]),
        "JIKIMI_DESK_PORT": str(ports["desk"]),
        "JIKIMI_DATABASE_URL": f"sqlite:///{tmp / 'jikimi.db'}",
        "RASA_TOKEN": token,
    }
    log = tmp / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jikimi.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    s = Stack(
        process,
        f"http://127.0.0.1:{ports['rasa']}",
        f"http://127.0.0.1:{ports['action']}",
        f"http://127.0.0.1:{ports['desk']}",
        token,
        log,
        env["JIKIMI_DATABASE_URL"],
    )
    try:
        wait_until(
            lambda: requests.get(f"{s.rasa_url}/status", params={"token": token}, timeout=2)
            .json()
            .get("model_id"),
            240,
            "Rasa server",
            process,
            log,
        )
        wait_until(lambda: requests.get(f"{s.action_url}/health", timeout=2).ok, 60,
                   "action server", process, log)
        wait_until(lambda: requests.get(f"{s.desk_url}/healthz", timeout=2).ok, 60,
                   "desk service", process, log)
        yield s
    finally:
        stop_and_check(process, ports.values(), log)


def stop_and_check(process: subprocess.Popen, ports, log: Path) -> None:
    """Ctrl-C (SIGINT) must stop all three processes and free their ports."""
    import socket

    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError(
            f"jikimi run ignored Ctrl-C:\n{log.read_text()[-4000:]}"
        ) from None
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
