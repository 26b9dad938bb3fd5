"""The desk's KakaoTalk side: the outbox dispatcher for `channel="kakao"` rows.

Messages a KakaoTalk student must get outside a skill request are queued by
the Rasa server (bot/kakao_channel.py); this loop asks Kakao's event API to
send the student's event block, with the same retries, backoff and claiming as
SMS (jikimi/dispatcher.py). What the block then shows: jikimi/kakao.py.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

from sanic import Blueprint, Sanic

from jikimi import kakao
from jikimi.dispatcher import Dispatcher, run_forever
from jikimi.settings import Settings

logger = logging.getLogger(__name__)


def kakao_blueprint(settings: Settings) -> Blueprint:
    """Runs the KakaoTalk dispatcher beside the desk server."""
    bp = Blueprint("jikimi_kakao")
    state: Dict[str, Any] = {}

    @bp.listener("after_server_start")
    async def start(app: Sanic, _loop: Any) -> None:
        transport = kakao.transport_for(settings)
        if transport.name == "local":
            logger.warning(
                "KAKAO_REST_API_KEY and KAKAO_BOT_ID are not both set: KakaoTalk messages "
                "outside a request wait for the student's next message."
            )
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jikimi-kakao")
        stop = asyncio.Event()
        dispatcher = Dispatcher(settings, transport, channel=kakao.CHANNEL)
        state.update(
            executor=executor,
            stop=stop,
            task=asyncio.create_task(run_forever(dispatcher, stop, executor)),
        )

    @bp.listener("before_server_stop")
    async def stop(app: Sanic, _loop: Any) -> None:
        if not state:
            return
        state["stop"].set()
        try:
            await asyncio.wait_for(state["task"], timeout=10)
        except asyncio.TimeoutError:
            state["task"].cancel()
        state["executor"].shutdown(wait=False, cancel_futures=True)

    return bp
