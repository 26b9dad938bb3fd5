"""Migrations, run programmatically: `upgrade` for `jikimi db upgrade` and the
tests, `schema_diff` to prove the models and the migrations agree.

A new migration: change the models, then (from the project root)
`python -c "from jikimi.db.migrate import revision; revision('what changed', URL)"`
against a database at head, and read what autogenerate wrote before keeping it.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from jikimi.db.session import create_plain_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Only our tables: Rasa's tracker store (`events`) may share the database,
    and a table only the database has is not ours to drop."""
    return not (type_ == "table" and reflected and compare_to is None)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def _run(database_url: str, run) -> None:
    """Runs an alembic command on one of our connections (see migrations/env.py)."""
    engine = create_plain_engine(database_url)
    try:
        with engine.connect() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            run(config)
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrates the database to `revision` (creating the tables on a new one)."""
    _run(database_url, lambda config: command.upgrade(config, revision))


def revision(message: str, database_url: str) -> None:
    """Autogenerates the next migration from the models' difference to the database."""
    _run(
        database_url,
        lambda config: command.revision(config, message=message, autogenerate=True),
    )


def schema_diff(database_url: str) -> List:
    """What autogenerate would change in the database to match the models
    (`alembic check`): empty when the migrations and the models agree."""
    from jikimi.db.models import Base

    engine = create_plain_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": include_object, "compare_type": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
