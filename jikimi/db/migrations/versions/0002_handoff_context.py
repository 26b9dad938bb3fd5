"""Handoffs keep the categories their counsellor SMS was built from (reason,
age group, platform), so that an escalation tells the next counsellor the same.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("age_group", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("platform", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("platform")
        batch.drop_column("age_group")
        batch.drop_column("reason")
