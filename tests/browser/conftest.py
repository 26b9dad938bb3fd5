"""The web widget in a real browser: Debian's Chromium driven by Playwright against
the real desk service, Rasa server and action server.

Like tests/e2e/conftest.py this starts the real processes on free ports, but one
by one (`jikimi serve rasa|actions|desk`, the production commands) instead of
through `jikimi run`, so a test can stop and restart the Rasa server on its own.
Nothing is skipped: without Chromium or the model the tests fail and say why.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict

import pytest
import requests

from tests.e2e.conftest import MODEL, ROOT, _free_port

CHROMIUM = Path(os.environ.get("JIKIMI_CHROMIUM", "/usr/bin/chromium"))
# The neutral site of quick exit (the default setting); tests answer it locally.
EXIT_URL = "https://www.naver.com/"
PHONE = {"width": 390, "height": 844}


@dataclass
class WidgetStack:
    env: Dict[str, str]
    logs: Path
    rasa_url: str
    action_url: str
    desk_url: str
    token: str
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "jikimi.cli", "serve", name],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        check, timeout = {
            "rasa": (self._rasa_ready, 300),
            "actions": (lambda: requests.get(f"{self.action_url}/health", timeout=2).ok, 90),
            "desk": (lambda: requests.get(f"{self.desk_url}/healthz", timeout=2).ok, 60),
        }[name]
        self._wait(name, check, timeout)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart_rasa(self) -> None:
        self.stop("rasa")
        self.start("rasa")

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _rasa_ready(self) -> bool:
        status = requests.get(f"{self.rasa_url}/status", params={"token": self.token}, timeout=2)
        return bool(status.ok and status.json().get("model_id"))

    def _wait(self, name: str, check, timeout: float) -> None:
        process = self.processes[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"`jikimi serve {name}` exited early:\n{self.log(name)}")
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError(f"`jikimi serve {name}` not up after {timeout}s:\n{self.log(name)}")

    def rasa_api(self, method: str, path: str, **kwargs) -> requests.Response:
        """Rasa's HTTP API with the token (as the desk service calls it)."""
        params = {"token": self.token, **kwargs.pop("params", {})}
        response = requests.request(
            method, f"{self.rasa_url}{path}", params=params, timeout=30, **kwargs
        )
        response.raise_for_status()
        return response


# Module scope, not session: the stack's memory is freed and Playwright's event
# loop is gone before the rest of the suite (asyncio.run, pytest-asyncio) runs.
@pytest.fixture(scope="module")
def widget_stack(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run the tests with `make test`, which trains it.")
    tmp = tmp_path_factory.mktemp("widget-stack")
    ports = {name: _free_port() for name in ("rasa", "action", "desk")}
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "JIKIMI_RASA_PORT": str(ports["rasa"]),
        "JIKIMI_ACTION_PORT": str(ports["action"]),
        "JIKIMI_DESK_PORT": str(ports["desk"]),
        "JIKIMI_DATABASE_URL": f"sqlite:///{tmp / 'jikimi.db'}",
        "RASA_TOKEN": token,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("JIKIMI_RASA_PUBLIC_URL", "JIKIMI_QUICK_EXIT_URL"):
        env.pop(name, None)  # the defaults are what is tested
    subprocess.run(
        [sys.executable, "-m", "jikimi.cli", "db", "upgrade"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )
    stack = WidgetStack(
        env=env,
        logs=tmp,
        rasa_url=f"http://127.0.0.1:{ports['rasa']}",
        action_url=f"http://127.0.0.1:{ports['action']}",
        desk_url=f"http://127.0.0.1:{ports['desk']}",
        token=token,
    )
    try:
        for name in ("actions", "desk", "rasa"):
            stack.start(name)
        yield stack
    finally:
        for name in list(stack.processes):
            stack.stop(name)


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's chromium "
            "package (`make test` installs it with apt; or `apt-get install chromium`, "
            "or set JIKIMI_CHROMIUM to a Chromium binary)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


def _neutral_site(route) -> None:
    route.fulfill(
        status=200,
        content_type="text/html; charset=utf-8",
        body="<!doctype html><title>neutral</title><p>neutral site</p>",
    )


@pytest.fixture
def exit_url() -> str:
    return EXIT_URL


@pytest.fixture
def context(browser):
    """A fresh phone-sized browser profile; the neutral site is answered locally and
    nothing else outside this machine is reached."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="ko-KR"
    )
    context.route(EXIT_URL + "**", _neutral_site)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
