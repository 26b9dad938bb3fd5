"""The web widget in a real browser: Debian's Chromium driven by Playwright against
the real desk service, Rasa server and action server.

Like tests/e2e/conftest.py this starts the real processes on free ports, but one
by one (`jikimi serve rasa|actions|desk`, the production commands; tests/support/processes.py)
instead of through `jikimi run`, so a test can stop and restart the Rasa server on its own.
Nothing is skipped: without Chromium or the model the tests fail and say why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict

import pytest
import requests

from tests.support.processes import ROOT, serve, stack_env, tail, urls

CHROMIUM = Path(os.environ.get("JIKIMI_CHROMIUM", "/usr/bin/chromium"))
# The neutral site of quick exit (the default setting); tests answer it locally.
EXIT_URL = "https://www.naver.com/"
PHONE = {"width": 390, "height": 844}


@dataclass
class WidgetStack:
    env: Dict[str, str]
    logs: Path
    rasa_url: str
    desk_url: str
    token: str
    running: Dict[str, ExitStack] = field(default_factory=dict)
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str) -> None:
        with ExitStack() as started:
            self.processes[name] = started.enter_context(serve(name, self.env, self.logs)).process
            self.running[name] = started.pop_all()

    def stop(self, name: str) -> None:
        self.processes.pop(name, None)
        running = self.running.pop(name, None)
        if running is not None:
            running.close()

    def restart_rasa(self) -> None:
        self.stop("rasa")
        self.start("rasa")

    def log(self, name: str) -> str:
        return tail(self.logs / f"{name}.log")

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
    tmp = tmp_path_factory.mktemp("widget-stack")
    env = stack_env(tmp)
    for name in ("JIKIMI_RASA_PUBLIC_URL", "JIKIMI_QUICK_EXIT_URL"):
        env.pop(name, None)  # the defaults are what is tested
    subprocess.run(
        [sys.executable, "-m", "jikimi.cli", "db", "upgrade"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    url = urls(env)
    stack = WidgetStack(env, tmp, url["rasa"], url["desk"], env["RASA_TOKEN"])
    try:
        for name in ("actions", "desk", "rasa"):
            stack.start(name)
        yield stack
    finally:
        for name in list(stack.running):
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
