"""The socket.io message queue over Redis, sealed.

With several Rasa instances, python-socketio's AsyncRedisManager publishes
every emit on a Redis pub/sub channel so that the instance holding a widget's
socket delivers it. Those emits are bot replies: case codes, evidence-log
links, a counsellor's words. Stock, they cross Redis as plain JSON, readable by
anyone who can SUBSCRIBE, and a forged one published by anyone who can PUBLISH
would be delivered to a student.

`SealedRedisManager` publishes each message as a Fernet token made with
`JIKIMI_SECRET_KEY` (every instance has it; a rotated key list still opens
older tokens) and delivers only what opens, and only if it was sealed less than
MAX_AGE_S ago (an old message replayed is dropped). Redis AUTH and TLS come from
the settings: the URL (`rediss://`, `user:password@`), JIKIMI_REDIS_PASSWORD and
JIKIMI_REDIS_CA_CERTS.

With Redis down, an emit still reaches the sockets of this instance (the
manager emits locally before it publishes; the failed publish is logged).
"""

from __future__ import annotations

import json
import logging
from typing import Any, AsyncIterator, Dict, Optional

from socketio import AsyncRedisManager

from jikimi.db.crypto import DecryptionError, Keyring

logger = logging.getLogger(__name__)

MAX_AGE_S = 60


def redis_options(settings: Any) -> Dict[str, Any]:
    """redis-py options for AUTH and TLS beyond what the URL says."""
    options: Dict[str, Any] = {"socket_connect_timeout": 2}
    if settings.redis_password:
        options["password"] = settings.redis_password
    url = settings.socketio_redis_url or ""
    if url.startswith("rediss://") and settings.redis_ca_certs:
        options["ssl_ca_certs"] = settings.redis_ca_certs
    return options


class SealedRedisManager(AsyncRedisManager):
    """AsyncRedisManager whose messages are sealed with the deployment's key."""

    def __init__(self, url: str, secret_key: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._keyring = Keyring(secret_key)

    @classmethod
    def from_settings(cls, settings: Any) -> "SealedRedisManager":
        return cls(
            settings.socketio_redis_url,
            settings.secret_key,
            channel=settings.socketio_channel,
            redis_options=redis_options(settings),
        )

    def seal(self, data: Dict[str, Any]) -> Dict[str, str]:
        return {"sealed": self._keyring.encrypt(json.dumps(data))}

    def open(self, message: Any) -> Optional[Dict[str, Any]]:
        """The message inside a sealed one, or None (not ours, altered, or too old)."""
        try:
            outer = json.loads(message) if isinstance(message, (bytes, str)) else message
            data = json.loads(self._keyring.decrypt(outer["sealed"], ttl=MAX_AGE_S))
        except (ValueError, TypeError, KeyError, DecryptionError):
            return None
        return data if isinstance(data, dict) else None

    async def _publish(self, data: Dict[str, Any]) -> Any:
        return await super()._publish(self.seal(data))

    async def _listen(self) -> AsyncIterator[Dict[str, Any]]:
        async for message in super()._listen():
            data = self.open(message)
            if data is None:
                logger.warning("A socket.io queue message that is not sealed by us was dropped.")
                continue
            yield data
