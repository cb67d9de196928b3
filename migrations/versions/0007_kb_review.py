"""knowledge-base entries say how current they are

``long_term`` is the only way an answer may claim 长期有效; ``reviewed_on`` / ``reviewed_by``
record the last time an editor checked the entry against its source (the answer card shows
it, the editor flags entries not checked for longer than the configured age).

Revision ID: 0007_kb_review
Revises: 0006_sessions
Create Date: 2026-12-03 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007_kb_review'
down_revision = '0006_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kb_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('long_term', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('reviewed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.create_index(batch_op.f('ix_kb_entries_reviewed_on'), ['reviewed_on'])


def downgrade() -> None:
    with op.batch_alter_table('kb_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_entries_reviewed_on'))
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('reviewed_on')
        batch_op.drop_column('long_term')
