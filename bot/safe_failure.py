"""When the action server is down, slow or broken, the student still gets an answer.

What Rasa 3.6 does on its own (rasa/core/actions/action.py, RemoteAction.run, and
rasa/core/processor.py, MessageProcessor._run_action): the call to the action
server waits up to 5 minutes (DEFAULT_REQUEST_TIMEOUT, not configurable); a
refused connection, an error status or a timeout becomes an exception that the
processor logs (with the action server's answer, which can hold the whole
tracker) and swallows: the action's events are lost, it is recorded as run, and
the rules predict `action_listen`. The student sees nothing at all.

The hook: every custom action reaches the action server through one object, the
agent's action endpoint (`EndpointConfig.request`). `SafeActionEndpoint` takes
its place once the model is loaded. It gives the action server
JIKIMI_ACTION_TIMEOUT_S to answer, and when the call fails it answers in the
action server's place, with the response format the action server itself uses:
no events, one bot message, the apology of content/messages.yml
(`action_failed`: a plain apology, 112/119, 109 and 1388). Rasa then carries on
as if the action had run: the message is sent and stored in the tracker like
any other, and the crisis and threat replies (domain responses chosen by rules)
come first as always. A 400 answer is not a failure but a form's rejection of a
slot, which Rasa handles itself, so it passes through. The apology is given once
per user message, however many actions fail in that turn.

Installed by the Jikimi input channels (bot/channels.py) as an
after_server_start listener, which runs after Rasa has loaded the agent.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text

import aiohttp
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from jikimi import content

logger = logging.getLogger(__name__)


@dataclass
class _Turn:
    apologised: bool = False


# Set by the channel guard for the duration of one user message.
_turn: contextvars.ContextVar[Optional[_Turn]] = contextvars.ContextVar("jikimi_turn", default=None)


def start_turn() -> contextvars.Token:
    """Marks the start of one user message (bot/channels.guard); reset the token after."""
    return _turn.set(_Turn())


def end_turn(token: contextvars.Token) -> None:
    _turn.reset(token)


def apology_responses() -> List[Dict[Text, Any]]:
    """The `responses` part of an action server answer: the apology, once per turn."""
    turn = _turn.get()
    if turn is not None:
        if turn.apologised:
            return []
        turn.apologised = True
    return [{"text": content.message("action_failed").text}]


# Kept-alive connections to the action server are closed on our side after
# this long idle: well before Sanic closes its side (KEEP_ALIVE_TIMEOUT, 5 s),
# so a request is never sent down a connection the server is closing.
KEEPALIVE_S = 2.0


class _Borrowed:
    """`async with` over the shared session that leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


class SafeActionEndpoint(EndpointConfig):
    """The action server's endpoint, with a timeout and an answer when it fails.

    Rasa's `EndpointConfig.request` opens a new HTTP session, and so a new
    connection, for every action call; this one shares one session (a pool of
    kept-alive connections) per event loop.
    """

    def __init__(self, endpoint: EndpointConfig, timeout_s: float) -> None:
        super().__init__(
            url=endpoint.url,
            params=endpoint.params,
            headers=endpoint.headers,
            basic_auth=endpoint.basic_auth,
            token=endpoint.token,
            token_name=endpoint.token_name,
            cafile=endpoint.cafile,
            **endpoint.kwargs,
        )
        self.type = endpoint.type
        self.timeout_s = timeout_s
        self._session: Optional[aiohttp.ClientSession] = None
        self._session_loop: Optional[asyncio.AbstractEventLoop] = None

    def session(self) -> Any:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._session_loop is not loop:
            auth = None
            if self.basic_auth:
                auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            session = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
            )
            self._session, self._session_loop = session, loop
        return _Borrowed(session)

    async def close(self) -> None:
        """Closes the shared session (at server stop); a later call opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def request(self, *args: Any, **kwargs: Any) -> Optional[Any]:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            return await super().request(*args, **kwargs)
        except ClientResponseError as error:
            if error.status == 400:  # ActionExecutionRejection: Rasa's own flow
                raise
            failure = f"status {error.status}"
        except asyncio.TimeoutError:
            failure = f"no answer within {self.timeout_s}s"
        except aiohttp.ClientError as error:
            failure = type(error).__name__
        action = (kwargs.get("json") or {}).get("next_action")
        # The action name and the reason only: never the tracker or the answer body.
        logger.warning(
            "Action server failed to run %s (%s); the student gets the apology instead.",
            action,
            failure,
        )
        return {"events": [], "responses": apology_responses()}


def install(agent: Any, timeout_s: float) -> bool:
    """Puts SafeActionEndpoint in place on a loaded agent; True when it did."""
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None or isinstance(endpoint, SafeActionEndpoint):
        return False
    safe = SafeActionEndpoint(endpoint, timeout_s)
    # The agent hands its endpoint to every processor it makes (a model loaded
    # later through the HTTP API too); the current processor holds its own copy.
    agent.action_endpoint = safe
    if getattr(agent, "processor", None) is not None:
        agent.processor.action_endpoint = safe
    return True
