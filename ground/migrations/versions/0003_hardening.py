"""hardening: linkage_night, the nights whose person ids were assigned (out-of-order reruns are refused)

Revision ID: 0003_hardening
Revises: 0002_case_view
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_hardening'
down_revision = '0002_case_view'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('linkage_night',
    sa.Column('extract_date', sa.Date(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('extract_date')
    )
    # A deployment from before this table: its latest linked night is the latest a record was seen.
    op.execute(
        "INSERT INTO linkage_night (extract_date, linked_at) "
        "SELECT MAX(last_seen), CURRENT_TIMESTAMP FROM linkage_record_person HAVING MAX(last_seen) IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table('linkage_night')
