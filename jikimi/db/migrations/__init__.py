"""Alembic migrations of the jikimi tables (run them with `jikimi db upgrade`)."""
