"""Floods and faults (issue 15): handoffs keep the client address tag their
conversation was started from (page caps per address), outbox messages a keyed
hash of their recipient (SMS caps per number), and inbound SMS their Twilio
MessageSid (acted on once, durably).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("client_tag", sa.String(length=16), nullable=True))
        batch.create_index("ix_handoffs_client_tag", ["client_tag"])
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("recipient_hash", sa.String(length=64), nullable=True))
        batch.create_index(
            "ix_outbox_messages_recipient_hash_sent_at", ["recipient_hash", "sent_at"]
        )
    op.create_table(
        "inbound_sms",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("message_sid", name="pk_inbound_sms"),
    )


def downgrade() -> None:
    op.drop_table("inbound_sms")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index("ix_outbox_messages_recipient_hash_sent_at")
        batch.drop_column("recipient_hash")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_index("ix_handoffs_client_tag")
        batch.drop_column("client_tag")
