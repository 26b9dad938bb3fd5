"""Initial tables: cases, evidence, counsellors, handoffs, the SMS outbox, SMS contacts.

Types are spelled as the database sees them (an encrypted column is Text, a
UTC time is DateTime(timezone=True)), so this file stays valid whatever the
models become.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("closed_at", Time, nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sender_hash", sa.String(length=64), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=True),
        sa.Column("minor", sa.Boolean(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("when_happened", sa.Text(), nullable=True),
        sa.Column("perpetrator_relation", sa.String(length=16), nullable=True),
        sa.Column("still_online", sa.Boolean(), nullable=True),
        sa.Column("risk_level", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("urls", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "perpetrator_relation IN ('classmate', 'known', 'stranger', 'unknown')",
            name="ck_cases_perpetrator_relation",
        ),
        sa.CheckConstraint("risk_level IN ('low', 'medium', 'high')", name="ck_cases_risk_level"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_cases_status"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("code", name="uq_cases_code"),
    )
    op.create_index("ix_cases_sender_hash", "cases", ["sender_hash"])

    op.create_table(
        "counsellors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_counsellors"),
        sa.UniqueConstraint("phone_hash", name="uq_counsellors_phone_hash"),
    )

    op.create_table(
        "evidence_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("captured_at", Time, nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('url', 'screenshot', 'chat_room', 'note')", name="ck_evidence_items_kind"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name="fk_evidence_items_case_id_cases",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_items"),
    )
    op.create_index("ix_evidence_items_case_id", "evidence_items", ["case_id"])

    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("sender_hash", sa.String(length=64), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=True),
        sa.Column("escalated_from_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", Time, nullable=False),
        sa.Column("notified_at", Time, nullable=True),
        sa.Column("accepted_at", Time, nullable=True),
        sa.Column("closed_at", Time, nullable=True),
        sa.Column("declined_at", Time, nullable=True),
        sa.Column("expired_at", Time, nullable=True),
        sa.Column("escalated_at", Time, nullable=True),
        sa.CheckConstraint(
            "state IN ('requested', 'notified', 'accepted', 'closed', 'declined', "
            "'expired', 'escalated')",
            name="ck_handoffs_state",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_handoffs_case_id_cases", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name="fk_handoffs_counsellor_id_counsellors",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["escalated_from_id"],
            ["handoffs.id"],
            name="fk_handoffs_escalated_from_id_handoffs",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
        sa.UniqueConstraint("code", name="uq_handoffs_code"),
    )
    op.create_index("ix_handoffs_case_id", "handoffs", ["case_id"])
    op.create_index("ix_handoffs_counsellor_id", "handoffs", ["counsellor_id"])
    op.create_index("ix_handoffs_sender_hash", "handoffs", ["sender_hash"])
    op.create_index("ix_handoffs_state_notified_at", "handoffs", ["state", "notified_at"])

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sender_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Time, nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("sent_at", Time, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed')", name="ck_outbox_messages_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    op.create_index("ix_outbox_messages_sender_hash", "outbox_messages", ["sender_hash"])
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at",
        "outbox_messages",
        ["status", "next_attempt_at"],
    )

    op.create_table(
        "sms_contacts",
        sa.Column("sender_id", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("last_seen_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name="pk_sms_contacts"),
        sa.UniqueConstraint("phone_hash", name="uq_sms_contacts_phone_hash"),
    )


def downgrade() -> None:
    for table in (
        "sms_contacts",
        "outbox_messages",
        "handoffs",
        "evidence_items",
        "counsellors",
        "cases",
    ):
        op.drop_table(table)
