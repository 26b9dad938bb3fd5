"""Every change Jikimi makes to Rasa's own behaviour, in one place, behind a version check.

Jikimi depends on Rasa Open Source 3.6 internals (private methods, the shape of
its action server answers, how its agent is wired). On another Rasa version
those assumptions may silently be wrong, so `install()` refuses to run there
(`UnsupportedRasa`, saying what is installed and what is needed).

What is changed, and when:

- Process-wide, once, before a model loads (`install()`): the three speed-ups
  of bot/speedups.py (Rasa's action answer validator, DIET's build step at
  load, the event type lookup).
- On the loaded agent, once Rasa has it (`install(blueprint)` registers an
  after_server_start listener): a failing tracker store is reported, never
  replaced by memory (bot/outage.py); action server calls time out and fail
  safe (bot/safe_failure.py). The listener also keeps the agent for the channel
  guard (`LoadedAgent`), which checks payloads against its domain, and parses
  one fixed message so that the first student does not wait for TensorFlow to
  trace the classifier (`warm_up`).
- On the socket.io channel's server (`share_socketio_through_redis`): the
  client manager that carries emits between Rasa instances over Redis.

Every input channel of ours (bot/channels.py: REST and socket.io,
bot/sms_channel.py, bot/kakao_channel.py) calls `install(blueprint)` when Rasa
asks it for its blueprint, which `rasa run` does before the model loads; so
whichever channels a credentials file names, all of it is in place. `jikimi
serve rasa` calls `install()` too, before Rasa starts. Calling it again is
harmless: each change is made once per process (per agent, per server).

The encrypted tracker store and the atomic lock store are subclasses of Rasa's
(they override methods, `_retrieve` among them, rather than patch Rasa) and
check the version when they are made.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Text

import rasa
from sanic import Blueprint, Sanic

from bot import outage, safe_failure, speedups
from jikimi.settings import Settings, load_settings
from jikimi.socketio_queue import SealedRedisManager

logger = logging.getLogger(__name__)

SUPPORTED_RASA = (3, 6)
_installed = False


class UnsupportedRasa(RuntimeError):
    """The installed Rasa is not the version Jikimi's changes were made for."""


def check_rasa_version(version: Optional[Text] = None) -> None:
    """Raises UnsupportedRasa unless `version` (default: the installed Rasa) is 3.6.x."""
    version = rasa.__version__ if version is None else version
    try:
        major_minor = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        major_minor = ()
    if major_minor != SUPPORTED_RASA:
        wanted = ".".join(map(str, SUPPORTED_RASA))
        raise UnsupportedRasa(
            f"Jikimi needs Rasa Open Source {wanted}.x, but Rasa {version} is installed: "
            f"its changes to Rasa (bot/install.py) were made for {wanted}. "
            f"Run `make setup` (constraints.txt pins the version)."
        )


def installed() -> bool:
    """Whether the process-wide changes are in place."""
    return _installed


class LoadedAgent:
    """The agent Rasa loaded, once it has (after_server_start); None before."""

    current: Any = None


def install(blueprint: Optional[Blueprint] = None) -> None:
    """Checks the Rasa version and makes the process-wide changes (once); with a
    channel's `blueprint`, also makes the per-agent ones when the server starts."""
    global _installed
    if not _installed:
        check_rasa_version()
        speedups.install()
        _installed = True
        logger.debug("Jikimi's changes to Rasa %s are installed.", rasa.__version__)
    if blueprint is not None:
        blueprint.listener("after_server_start")(_on_agent_loaded)
        blueprint.listener("before_server_stop")(_on_server_stop)


# Parsed once when the model is loaded: the classifier's first prediction
# traces its TensorFlow function (about 2 s here, more under load), which
# would otherwise be the first student's wait (KakaoTalk gives a skill 5 s).
WARM_UP_TEXT = "안녕하세요"


async def warm_up(agent: Any) -> bool:
    """Parses one fixed message (no conversation is read or written); once per agent."""
    if agent is None or getattr(agent, "_jikimi_warm", False) or not agent.is_ready():
        return False
    agent._jikimi_warm = True
    try:
        await agent.parse_message(WARM_UP_TEXT)
    except Exception:  # a failed warm-up only leaves the first reply slower
        logger.exception("The warm-up parse failed; the first reply will be slower.")
        return False
    return True


async def _on_agent_loaded(app: Sanic, _loop: Any) -> None:
    loaded = getattr(app.ctx, "agent", None)
    LoadedAgent.current = loaded
    if outage.install(loaded):
        logger.info("A failing tracker store is reported, never replaced by memory.")
    timeout_s = load_settings().action_timeout_s
    if safe_failure.install(loaded, timeout_s):
        logger.info("Action server calls time out after %ss and fail safe.", timeout_s)
    if await warm_up(loaded):
        logger.info("The classifier is warmed up (its first prediction traced).")


async def _on_server_stop(app: Sanic, _loop: Any) -> None:
    endpoint = getattr(getattr(app.ctx, "agent", None), "action_endpoint", None)
    if isinstance(endpoint, safe_failure.SafeActionEndpoint):
        await endpoint.close()


def share_socketio_through_redis(sio: Any, settings: Settings) -> None:
    """With JIKIMI_SOCKETIO_REDIS_URL, emits go through a Redis message queue
    (python-socketio's AsyncRedisManager), so a reply made on one Rasa instance
    (a counsellor's words, through the desk's trigger_intent) reaches a widget
    connected to another. Rasa makes the AsyncServer itself without a client
    manager; ours takes the place of the default one before the server starts
    (the server initialises its manager on the first connection). What crosses
    Redis is sealed (jikimi/socketio_queue.py); with Redis down, emits to sockets
    of this instance still arrive (the manager emits locally before it publishes)."""
    if not settings.socketio_redis_url:
        return
    manager = SealedRedisManager.from_settings(settings)
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False
    logger.info("socket.io messages are shared through Redis (several Rasa instances).")
