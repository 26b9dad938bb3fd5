"""Jikimi's real processes for tests and benchmarks, started as users and
production start them: `jikimi run` (all three, as `make run`) or
`jikimi serve rasa|actions|desk` (one, so that a test can stop it or run it
with other settings), on free loopback ports, each waited for until it answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "jikimi.tar.gz"


class NotUp(AssertionError):
    """A process exited early or did not answer in time (the message has its log)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env(tmp: Path, **overrides: str) -> Dict[str, str]:
    """Settings for one stack: free ports, its own database, token and key."""
    env = {
        **os.environ,
        "JIKIMI_RASA_PORT": str(free_port()),
        "JIKIMI_ACTION_PORT": str(free_port()),
        "JIKIMI_DESK_PORT": str(free_port()),
        "JIKIMI_DATABASE_URL": f"sqlite:///{tmp / 'jikimi.db'}",
        "JIKIMI_SECRET_KEY": Fernet.generate_key().decode(),
        "RASA_TOKEN": "test-token-" + os.urandom(8).hex(),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return env


def urls(env: Dict[str, str]) -> Dict[str, str]:
    return {
        name: f"http://127.0.0.1:{env[variable]}"
        for name, variable in (
            ("rasa", "JIKIMI_RASA_PORT"),
            ("actions", "JIKIMI_ACTION_PORT"),
            ("desk", "JIKIMI_DESK_PORT"),
        )
        if variable in env
    }


def ready_checks(env: Dict[str, str]) -> Dict[str, Callable[[], bool]]:
    """How each process shows it answers: Rasa once its model is loaded."""
    url = urls(env)

    def rasa() -> bool:
        status = requests.get(
            f"{url['rasa']}/status", params={"token": env["RASA_TOKEN"]}, timeout=2
        )
        return bool(status.ok and status.json().get("model_id"))

    return {
        "rasa": rasa,
        "actions": lambda: requests.get(f"{url['actions']}/health", timeout=2).ok,
        "desk": lambda: requests.get(f"{url['desk']}/healthz", timeout=2).ok,
    }


TIMEOUTS_S = {"rasa": 300, "actions": 90, "desk": 60}


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotUp(f"{what}: the process exited early:\n{tail(log)}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise NotUp(f"{what} not up after {timeout}s:\n{tail(log)}")


def tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def popen(command: list, env: Dict[str, str], log: Path, root: Path = ROOT) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jikimi.cli", *command],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def start_run(
    env: Dict[str, str], log: Path, root: Path = ROOT, model: Path = MODEL
) -> subprocess.Popen:
    """`jikimi run` (all three processes), returned once all three answer.
    `root` and `model` run another checkout (scripts/bench_dialogue.py --before)."""
    if not model.exists():
        raise NotUp(f"{model} is missing: run the tests with `make test`, which trains it.")
    extra = [] if model == MODEL else ["--model", str(model)]
    process = popen(["run", *extra], env, log, root)
    try:
        for name, check in ready_checks(env).items():
            wait_until(check, TIMEOUTS_S[name], f"jikimi run ({name})", process, log)
    except BaseException:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen, timeout: float = 30) -> bool:
    """Ctrl-C (SIGINT), as a user stops it; the whole process group is killed if
    it is still running after `timeout`. True when it stopped by itself."""
    if process.poll() is not None:
        return True
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False


@dataclass
class Serving:
    name: str
    process: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """Gone without a goodbye: SIGKILL, as a crash or an OOM kill would."""
        self.process.kill()
        self.process.wait(timeout=30)


@contextmanager
def serve(name: str, env: Dict[str, str], tmp: Path) -> Iterator[Serving]:
    """`jikimi serve NAME` (rasa, actions or desk) until the block ends; waits
    until it answers. Its output is appended to tmp/NAME.log."""
    if name == "rasa" and not MODEL.exists():
        raise NotUp(f"{MODEL} is missing: run the tests with `make test`, which trains it.")
    log = tmp / f"{name}.log"
    process = popen(["serve", name], env, log)
    try:
        wait_until(ready_checks(env)[name], TIMEOUTS_S[name], f"jikimi serve {name}", process, log)
        yield Serving(name, process, urls(env)[name], log)
    finally:
        stop(process)
