"""Engines and sessions, made on first use from Settings.

One engine per (database URL, key), cached: an engine owns a connection pool,
and its dialect carries the key that encrypts its columns. Sessions are per
unit of work (an action call, a request, one dispatcher round) and never
shared: `session_scope` commits at the end or rolls back on error.

Everything here blocks: async code (actions, the desk) calls it in a thread.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Tuple

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from jikimi.db.crypto import Keyring, bind_keyring
from jikimi.settings import Settings

_lock = threading.Lock()
_engines: Dict[Tuple[str, str], Engine] = {}
_sessionmakers: Dict[Engine, sessionmaker] = {}


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    # SQLite ignores foreign keys (and ON DELETE CASCADE) unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_db_engine(database_url: str, secret_key: str) -> Engine:
    """A new engine (uncached) whose encrypted columns use `secret_key`."""
    engine = create_plain_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    bind_keyring(engine, Keyring(secret_key))
    return engine


def private_sqlite_file(database_url: str) -> None:
    """A SQLite database file (and its directory) made readable by this user
    only, like the generated secrets: 0600, created so if it is new (SQLite's
    journal files copy its mode). Other databases: nothing to do."""
    try:
        url = make_url(database_url)
    except ArgumentError:  # not a URL (a host name): not a SQLite file either
        return
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def create_plain_engine(database_url: str) -> Engine:
    """An engine without a key, for migrations. SQLite's file is made private
    (`private_sqlite_file`); its foreign keys stay off here, because Alembic's
    batch mode recreates a table by copying it, and dropping the old one with
    foreign keys on would cascade-delete the rows that point to it."""
    url = make_url(database_url)
    options: Dict = {"future": True}
    if url.get_backend_name() == "sqlite":
        private_sqlite_file(database_url)
        # Several processes share the file: wait for a writer rather than fail.
        options["connect_args"] = {"timeout": 30}
    else:
        options["pool_pre_ping"] = True
    return create_engine(url, **options)


def get_engine(settings: Settings) -> Engine:
    """The engine for `settings.database_url` and `settings.secret_key`."""
    key = (settings.database_url, settings.secret_key)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_db_engine(*key)
        return engine


def get_sessionmaker(settings: Settings) -> sessionmaker:
    """Sessions for `settings`; objects stay readable after commit (the case
    code told to the student is read after the case is committed)."""
    engine = get_engine(settings)
    with _lock:
        factory = _sessionmakers.get(engine)
        if factory is None:
            factory = _sessionmakers[engine] = sessionmaker(
                bind=engine, future=True, expire_on_commit=False
            )
        return factory


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with get_sessionmaker(settings).begin() as session:
        yield session


def engine_count() -> int:
    """How many engines are open (none until a database is first used)."""
    with _lock:
        return len(_engines)


def dispose_engines() -> None:
    """Closes every cached engine's connections (tests, process shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _sessionmakers.clear()
