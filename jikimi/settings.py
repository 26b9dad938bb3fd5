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
from typing import Mapping, Optional

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

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def twilio_enabled(self) -> bool:
        return bool(
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number
        )


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
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def load_settings(
    environ: Optional[Mapping[str, str]] = None, root: Path = ROOT
) -> Settings:
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

    return Settings(
        root=root,
        host=get("JIKIMI_HOST", "127.0.0.1"),
        database_url=database_url,
        tracker_store_url=get("JIKIMI_TRACKER_STORE_URL", database_url),
        lock_store_url=get("JIKIMI_LOCK_STORE_URL"),
        secret_key=get("JIKIMI_SECRET_KEY")
        or _local_secret(var_dir, "secret_key", _fernet_key),
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
    )
