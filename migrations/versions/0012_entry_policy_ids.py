"""An entry may name the 政策体检 policies it is about (issue 23): ``kb_entries.policy_ids``,
a JSON list like ``tags``; existing entries name none.

Revision ID: 0012_entry_policy_ids
Revises: 0011_rating_prompt
Create Date: 2026-12-07 12:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_entry_policy_ids'
down_revision = '0011_rating_prompt'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kb_entries') as batch:
        batch.add_column(sa.Column('policy_ids', sa.JSON(), nullable=True))
    op.execute(sa.text("UPDATE kb_entries SET policy_ids = '[]'"))
    with op.batch_alter_table('kb_entries') as batch:
        batch.alter_column('policy_ids', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('kb_entries') as batch:
        batch.drop_column('policy_ids')
