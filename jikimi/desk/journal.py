"""The desk's SMS journal: what arrived while it could not be acted on, kept on
disk until it can.

Twilio calls the inbound webhook once; answering with an error does not make
it call again (it would call a fallback URL, if one were set). So an SMS that
arrives while the database is down, or whose words Rasa cannot take (Rasa down,
or its conversation store), is written here before the webhook answers, and
replayed, oldest first, once the database and Rasa answer again
(jikimi/desk/sms.py). Nothing accepted is lost; Twilio's MessageSid, recorded
in the database when a message is acted on, keeps a replay from acting twice.

Each entry is one file, `<nanoseconds>-<counter>.sms`, holding a Fernet token
(JIKIMI_SECRET_KEY) of `{"kind": ..., ...}`: written to a temporary name,
flushed to disk and renamed, so a crash leaves either the whole entry or none.
The directory (var/sms-journal-<desk port>, mode 700) must be on disk that
survives a restart of the desk; each desk process keeps its own.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from jikimi.db.crypto import DecryptionError, Keyring

logger = logging.getLogger(__name__)

SUFFIX = ".sms"


@dataclass(frozen=True)
class Entry:
    path: Path
    data: Dict[str, Any]

    @property
    def kind(self) -> str:
        return self.data.get("kind", "")


class Journal:
    """Append, list in order, remove. Safe to use from several threads."""

    def __init__(self, directory: Path, secret_key: str) -> None:
        self.directory = directory
        self._keyring = Keyring(secret_key)
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def append(self, data: Dict[str, Any]) -> Path:
        """Writes one entry durably (flushed to disk) and returns its path."""
        with self._lock:
            self._ensure()
            name = f"{time.time_ns():020d}-{next(self._counter):06d}{SUFFIX}"
            final = self.directory / name
            temporary = self.directory / (name + ".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, self._keyring.encrypt(json.dumps(data, ensure_ascii=False)).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temporary, final)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            return final

    def entries(self) -> List[Entry]:
        """Every entry, oldest first. One that does not open (another key, a
        damaged file) is set aside as `*.unreadable`, for an operator, and logged."""
        if not self.directory.exists():
            return []
        found = []
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            data = self._read(path)
            if data is None:
                logger.error("A journaled SMS does not open (key?); set aside: %s", path.name)
                path.rename(path.with_suffix(".unreadable"))
                continue
            found.append(Entry(path, data))
        return found

    def _read(self, path: Path) -> Optional[Dict[str, Any]]:
        try:
            data = json.loads(self._keyring.decrypt(path.read_text()))
        except (OSError, ValueError, DecryptionError):
            return None
        return data if isinstance(data, dict) else None

    def __len__(self) -> int:
        if not self.directory.exists():
            return 0
        return sum(1 for _ in self.directory.glob("*" + SUFFIX))

    def remove(self, entry: Entry) -> None:
        try:
            entry.path.unlink()
        except FileNotFoundError:
            pass

    def holds(self, sender_id: str) -> bool:
        """True when an entry for this conversation waits (its order must hold)."""
        return any(e.data.get("sender_id") == sender_id for e in self.entries())
