"""Settings: read once from the environment (and a `.env` file in the root).

Names and defaults are a public interface (README "Configuration"). Local
secrets that have no value yet are generated into `var/` on first use, so a
laptop run needs no set-up; production sets them explicitly.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Tuple
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    root: Path
    host: str
    database_url: str
    tracker_store_url: str
    lock_store_url: Optional[str]
    secret_key: str
    public_url: str
    handoff_timeout_s: int
    rasa_token: str
    twilio_account_sid: Optional[str]
    twilio_auth_token: Optional[str]
    twilio_from_number: Optional[str]
    twilio_api_base: str
    rasa_port: int
    action_port: int
    desk_port: int
    # The web widget (jikimi/desk/widget.py): where the browser reaches the Rasa
    # server's socket.io channel, and the neutral page "빠른 나가기" goes to.
    rasa_public_url: str = "http://127.0.0.1:5005"
    quick_exit_url: str = "https://www.naver.com/"
    # Safety and security (README "Security and limits"). `env` production turns
    # the REST channel off (credentials file); the rest are limits and retention.
    env: str = "development"
    credentials_path: Path = ROOT / "bot" / "credentials.yml"
    widget_origins: Tuple[str, ...] = ("http://127.0.0.1:8000",)
    sender_messages_per_minute: int = 30
    ip_requests_per_minute: int = 600
    max_request_bytes: int = 131072
    action_timeout_s: int = 10
    retention_days: int = 90
    # Floods and faults (README "Safe failure, security and limits"): new
    # widget conversations per client address, counsellor pages per
    # conversation, per client address and per counsellor (each per hour),
    # SMS sent to one number per minute, and how long an open case may see no
    # activity before it is closed (and later purged with the retention rules).
    ip_conversations_per_minute: int = 60
    pages_per_conversation_per_hour: int = 3
    pages_per_address_per_hour: int = 5
    pages_per_counsellor_per_hour: int = 12
    sms_per_number_per_minute: int = 10
    case_close_days: int = 30
    # Redis AUTH and TLS for the lock store and the socket.io queue: a password
    # kept out of the URLs, and the CA bundle a rediss:// server's certificate
    # is checked against (the system's when unset).
    redis_password: Optional[str] = None
    redis_ca_certs: Optional[str] = None
    # SMS (jikimi/dispatcher.py): seconds before a failed SMS is tried again,
    # doubling on each failure (at most an hour).
    sms_retry_s: int = 30
    # Scale-out (README "Production deployment"): the socket.io channel's Redis
    # message queue, so any Rasa instance can push to a widget student connected
    # to another; all instances of one deployment use the same channel name.
    socketio_redis_url: Optional[str] = None
    socketio_channel: str = "jikimi-socketio"
    # Processes on other hosts: where the desk reaches the Rasa servers (their
    # load balancer) and the Rasa servers the action servers. Default: this
    # host's ports.
    rasa_url_override: Optional[str] = None
    action_url_override: Optional[str] = None
    # KakaoTalk (bot/kakao_channel.py, jikimi/kakao.py): the secret Open Builder
    # sends with every skill request (none: every request is refused), and the
    # event API that reaches students outside a request.
    kakao_skill_secret: Optional[str] = None
    kakao_api_base: str = "https://bot-api.kakao.com"
    kakao_rest_api_key: Optional[str] = None
    kakao_bot_id: Optional[str] = None

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    @property
    def rasa_url(self) -> str:
        return self.rasa_url_override or f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return self.action_url_override or f"http://{self.host}:{self.action_port}/webhook"

    @property
    def kakao_enabled(self) -> bool:
        """True when the event API can be called (KAKAO_REST_API_KEY and KAKAO_BOT_ID)."""
        return bool(self.kakao_rest_api_key and self.kakao_bot_id)

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)


def _local_secret(var_dir: Path, name: str, make) -> str:
    """Returns a secret kept in var/NAME, creating it (mode 600) the first time."""
    path = var_dir / name
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def _fernet_key() -> str:
    return Fernet.generate_key().decode()


ENVIRONMENTS = ("development", "production")


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL: what a browser sends as its Origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _safety_settings(get, number, root: Path, local_host: str) -> dict:
    env = get("JIKIMI_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ValueError(f"JIKIMI_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    default_credentials = "credentials-production.yml" if env == "production" else "credentials.yml"
    credentials = Path(get("JIKIMI_CREDENTIALS", str(root / "bot" / default_credentials)))
    if not credentials.is_absolute():
        credentials = root / credentials
    # The widget's page is the desk's: its local URL and its public one.
    desk_local = f"http://{local_host}:{number('JIKIMI_DESK_PORT', 8000)}"
    public = _origin(get("JIKIMI_PUBLIC_URL", "http://127.0.0.1:8000"))
    origins = get("JIKIMI_WIDGET_ORIGIN")
    widget_origins = (
        tuple(o.strip().rstrip("/") for o in origins.split(",") if o.strip())
        if origins
        else tuple(dict.fromkeys((desk_local, public)))
    )
    if not widget_origins:
        raise ValueError("JIKIMI_WIDGET_ORIGIN must name at least one origin.")
    for origin in widget_origins:
        if not origin.startswith(("http://", "https://")) or _origin(origin) != origin:
            raise ValueError(
                "JIKIMI_WIDGET_ORIGIN must be origins like https://example.org "
                f"(scheme, host, port; comma-separated), not {origin!r}."
            )

    def limit(name: str, default: int) -> int:
        value = number(name, default)
        if value < 0:
            raise ValueError(f"{name} must not be negative, not {value}.")
        return value

    action_timeout_s = number("JIKIMI_ACTION_TIMEOUT_S", 10)
    if action_timeout_s < 1:
        raise ValueError(f"JIKIMI_ACTION_TIMEOUT_S must be at least 1, not {action_timeout_s}.")
    return {
        "env": env,
        "credentials_path": credentials,
        "widget_origins": widget_origins,
        "sender_messages_per_minute": limit("JIKIMI_SENDER_MESSAGES_PER_MINUTE", 30),
        "ip_requests_per_minute": limit("JIKIMI_IP_REQUESTS_PER_MINUTE", 600),
        "max_request_bytes": limit("JIKIMI_MAX_REQUEST_BYTES", 131072),
        "action_timeout_s": action_timeout_s,
        "retention_days": limit("JIKIMI_RETENTION_DAYS", 90),
        "ip_conversations_per_minute": limit("JIKIMI_IP_CONVERSATIONS_PER_MINUTE", 60),
        "pages_per_conversation_per_hour": limit("JIKIMI_PAGES_PER_CONVERSATION_PER_HOUR", 3),
        "pages_per_address_per_hour": limit("JIKIMI_PAGES_PER_ADDRESS_PER_HOUR", 5),
        "pages_per_counsellor_per_hour": limit("JIKIMI_PAGES_PER_COUNSELLOR_PER_HOUR", 12),
        "sms_per_number_per_minute": limit("JIKIMI_SMS_PER_NUMBER_PER_MINUTE", 10),
        "case_close_days": limit("JIKIMI_CASE_CLOSE_DAYS", 30),
        "redis_password": get("JIKIMI_REDIS_PASSWORD"),
        "redis_ca_certs": _existing_file(get("JIKIMI_REDIS_CA_CERTS"), "JIKIMI_REDIS_CA_CERTS"),
    }


def _existing_file(value: Optional[str], name: str) -> Optional[str]:
    if value is not None and not Path(value).is_file():
        raise ValueError(f"{name} must name a readable file, not {value!r}.")
    return value


def _redis_url(value: Optional[str], name: str) -> Optional[str]:
    if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{name} must be a redis://, rediss:// or unix:// URL.")
    return value


def load_settings(environ: Optional[Mapping[str, str]] = None, root: Path = ROOT) -> Settings:
    """Builds the settings from `.env` overlaid by the process environment."""
    env = {**dotenv_values(root / ".env"), **(os.environ if environ is None else environ)}

    def get(name: str, default: Optional[str] = None) -> Optional[str]:
        value = env.get(name)
        return value if value not in (None, "") else default

    var_dir = root / "var"
    database_url = get("JIKIMI_DATABASE_URL", f"sqlite:///{var_dir / 'jikimi.db'}")

    def number(name: str, default: int) -> int:
        value = get(name, str(default))
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, not {value!r}.") from None

    def web_url(name: str, default: str) -> str:
        value = get(name, default)
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{name} must be an http:// or https:// URL, not {value!r}.")
        return value

    host = get("JIKIMI_HOST", "127.0.0.1")
    # A browser cannot reach "all interfaces"; it reaches this machine.
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    rasa_port = number("JIKIMI_RASA_PORT", 5005)

    return Settings(
        root=root,
        host=get("JIKIMI_HOST", "127.0.0.1"),
        database_url=database_url,
        tracker_store_url=get("JIKIMI_TRACKER_STORE_URL", database_url),
        lock_store_url=get("JIKIMI_LOCK_STORE_URL"),
        secret_key=get("JIKIMI_SECRET_KEY") or _local_secret(var_dir, "secret_key", _fernet_key),
        public_url=get("JIKIMI_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        handoff_timeout_s=number("JIKIMI_HANDOFF_TIMEOUT_S", 300),
        rasa_token=get("RASA_TOKEN")
        or _local_secret(var_dir, "rasa_token", lambda: secrets.token_urlsafe(32)),
        twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
        twilio_from_number=get("TWILIO_FROM_NUMBER"),
        twilio_api_base=get("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/"),
        rasa_port=number("JIKIMI_RASA_PORT", 5005),
        action_port=number("JIKIMI_ACTION_PORT", 5055),
        desk_port=number("JIKIMI_DESK_PORT", 8000),
        rasa_public_url=web_url(
            "JIKIMI_RASA_PUBLIC_URL", f"http://{local_host}:{rasa_port}"
        ).rstrip("/"),
        quick_exit_url=web_url("JIKIMI_QUICK_EXIT_URL", "https://www.naver.com/"),
        sms_retry_s=number("JIKIMI_SMS_RETRY_S", 30),
        socketio_redis_url=_redis_url(
            get("JIKIMI_SOCKETIO_REDIS_URL"), "JIKIMI_SOCKETIO_REDIS_URL"
        ),
        socketio_channel=get("JIKIMI_SOCKETIO_CHANNEL", "jikimi-socketio"),
        rasa_url_override=get("JIKIMI_RASA_URL") and web_url("JIKIMI_RASA_URL", "").rstrip("/"),
        action_url_override=get("JIKIMI_ACTION_URL") and web_url("JIKIMI_ACTION_URL", ""),
        kakao_skill_secret=get("JIKIMI_KAKAO_SKILL_SECRET"),
        kakao_api_base=web_url("KAKAO_API_BASE", "https://bot-api.kakao.com").rstrip("/"),
        kakao_rest_api_key=get("KAKAO_REST_API_KEY"),
        kakao_bot_id=get("KAKAO_BOT_ID"),
        **_safety_settings(get, number, root, local_host),
    )
