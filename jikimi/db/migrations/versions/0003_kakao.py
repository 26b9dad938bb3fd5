"""KakaoTalk: the contacts table (bot user key, encrypted, and its keyed hash) and,
on the outbox, which channel a message goes through and when a KakaoTalk
message was shown.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kakao_contacts",
        sa.Column("sender_id", sa.String(length=40), nullable=False),
        sa.Column("user_key", sa.Text(), nullable=False),
        sa.Column("user_key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("last_seen_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name="pk_kakao_contacts"),
        sa.UniqueConstraint("user_key_hash", name="uq_kakao_contacts_user_key_hash"),
    )
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=8), nullable=False, server_default="sms")
        )
        batch.add_column(sa.Column("delivered_at", Time, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("delivered_at")
        batch.drop_column("channel")
    op.drop_table("kakao_contacts")
