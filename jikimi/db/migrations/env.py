"""Alembic's environment, configured by `jikimi.db.migrate` rather than an alembic.ini.

The connection arrives in `config.attributes["connection"]` (the URL, for
offline SQL, in `config.attributes["database_url"]`: the ini options' `%`
interpolation would mangle URL-encoded passwords). Only our
tables are compared and migrated: Rasa's tracker store may share the database.
"""

from alembic import context
from sqlalchemy.types import TypeDecorator

from jikimi.db.migrate import include_object
from jikimi.db.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    """Our column types (EncryptedText, UTCDateTime) are written as the
    database type beneath them, so that a migration never imports the app."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


OPTIONS = dict(
    target_metadata=target_metadata,
    include_object=include_object,
    render_item=render_item,
    compare_type=True,
    # SQLite alters a table by copying it; later migrations then work there too.
    render_as_batch=True,
)


def run_offline() -> None:
    context.configure(url=config.attributes["database_url"], literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # `jikimi.db.migrate` hands over a connection of its own engine.
    connection = config.attributes["connection"]
    context.configure(connection=connection, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
