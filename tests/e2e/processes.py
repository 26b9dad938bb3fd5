"""Starting single processes (`jikimi serve rasa|actions`) as production runs them,
for tests that need to stop one of them or to run with other settings than
`jikimi run` (tests/e2e/conftest.py) uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator

import pytest
import requests
from cryptography.fernet import Fernet

from tests.e2e.conftest import MODEL, ROOT, _free_port


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


def stack_env(tmp: Path, **overrides: str) -> Dict[str, str]:
    """Settings for one test stack: free ports, its own database, token and key."""
    env = {
        **os.environ,
        "JIKIMI_RASA_PORT": str(_free_port()),
        "JIKIMI_ACTION_PORT": str(_free_port()),
        "JIKIMI_DESK_PORT": str(_free_port()),
        "JIKIMI_DATABASE_URL": f"sqlite:///{tmp / 'jikimi.db'}",
        "JIKIMI_SECRET_KEY": Fernet.generate_key().decode(),
        "RASA_TOKEN": "test-token-" + os.urandom(8).hex(),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    env.update(overrides)
    return env


@contextmanager
def serve(name: str, env: Dict[str, str], tmp: Path) -> Iterator[Serving]:
    """`jikimi serve NAME` until the block ends; waits until it answers."""
    if name == "rasa" and not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run the tests with `make test`, which trains it.")
    if name == "rasa":
        url = f"http://127.0.0.1:{env['JIKIMI_RASA_PORT']}"
        ready = f"{url}/status?token={env['RASA_TOKEN']}"
        timeout = 300
    else:
        url = f"http://127.0.0.1:{env['JIKIMI_ACTION_PORT']}"
        ready = f"{url}/health"
        timeout = 90
    log = tmp / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jikimi.cli", "serve", name],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    serving = Serving(name, process, url, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"jikimi serve {name} exited early:\n{serving.output()[-4000:]}")
            try:
                response = requests.get(ready, timeout=2)
                if response.ok and (name != "rasa" or response.json().get("model_id")):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jikimi serve {name} not up after {timeout}s:\n{serving.output()}")
            time.sleep(0.5)
        yield serving
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
