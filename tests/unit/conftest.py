"""Database fixtures for every unit test module: `db` (SQLite and PostgreSQL),
`sqlite_db` and `postgres_url`, defined in test_db.py."""

from tests.unit.test_db import db, postgres_url, sqlite_db  # noqa: F401
