"""bot/install.py: Jikimi's changes to Rasa, made in one place, only on Rasa 3.6.

Installing changes Rasa for the whole process, so what is installed is checked
in a fresh Python process each time, as the Rasa server starts.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import rasa

from bot.install import UnsupportedRasa, check_rasa_version
from tests.conftest import ROOT

ENV = {"JIKIMI_SECRET_KEY": "Ayg7cm0LbdfhCqOvNxA4M0IpzjvbCJjCgQjdBx0gJRM=", "RASA_TOKEN": "t"}


def in_fresh_process(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), **ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_installed_rasa_is_the_supported_one():
    assert rasa.__version__.startswith("3.6.")
    check_rasa_version()
    check_rasa_version("3.6.0")


@pytest.mark.parametrize("version", ["3.7.0", "3.5.15", "4.0.0", "2.8", "nightly"])
def test_another_rasa_version_is_refused_with_a_clear_error(version):
    with pytest.raises(UnsupportedRasa) as refused:
        check_rasa_version(version)
    message = str(refused.value)
    assert f"Rasa {version} is installed" in message
    assert "3.6.x" in message and "make setup" in message


def test_installing_twice_is_harmless():
    out = in_fresh_process(
        """
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.utils.tensorflow.models import RasaModel
from bot import install
stock = (RemoteAction._validate_action_result, RasaModel.fit, Event.resolve_by_type)
assert not install.installed()
install.install()
once = (RemoteAction._validate_action_result, RasaModel.fit, Event.resolve_by_type)
install.install()
twice = (RemoteAction._validate_action_result, RasaModel.fit, Event.resolve_by_type)
assert install.installed()
assert all(a is not b for a, b in zip(stock, once)), "each one replaced"
assert all(a is b for a, b in zip(once, twice)), "and only once"
assert Event.resolve_by_type("user").type_name == "user"
print("ok")
"""
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize(
    "channel",
    [
        "bot.channels.JikimiRestInput",
        "bot.channels.JikimiSocketIOInput",
        "bot.sms_channel.JikimiSmsInput",
        "bot.kakao_channel.KakaoInput",
    ],
)
def test_every_channel_installs_the_changes(channel):
    """Whichever channels a credentials file names, building one's blueprint (as
    `rasa run` does before it loads the model) installs everything."""
    module, name = channel.rsplit(".", 1)
    out = in_fresh_process(
        f"""
import importlib
from bot import install
assert not install.installed()
channel = getattr(importlib.import_module("{module}"), "{name}")()

async def on_new_message(message):
    return None

channel.blueprint(on_new_message)
print(install.installed())
"""
    )
    assert out.strip() == "True"


@pytest.mark.slow
def test_the_loaded_model_is_warmed_up_once_and_a_missing_one_is_skipped(model_path):
    """The warm-up parses one fixed message with the real model, once per agent;
    an agent without a model is left alone (no error)."""
    out = in_fresh_process(
        f"""
import asyncio
from rasa.core.agent import Agent
from bot import install
install.install()
agent = Agent.load({str(model_path)!r})
once = asyncio.run(install.warm_up(agent)), asyncio.run(install.warm_up(agent))
skipped = asyncio.run(install.warm_up(Agent())), asyncio.run(install.warm_up(None))
parsed = asyncio.run(agent.parse_message("제 사진이 합성돼서 돌아요"))
print("RESULT", *once, *skipped, parsed["intent"]["name"])
"""
    )
    result = next(line for line in out.splitlines() if line.startswith("RESULT "))
    assert result.split()[1:] == ["True", "False", "False", "False", "report_incident"]
