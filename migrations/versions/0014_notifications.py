"""政策推送 (issue 24): ``notifications``, one row per enterprise, policy version and kind
(the unique key makes a notification "sent once"), and ``notification_optouts``.

Revision ID: 0014_notifications
Revises: 0013_enterprises
Create Date: 2026-12-07 15:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_notifications'
down_revision = '0013_enterprises'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notifications',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('policy_version', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('provider_message_id', sa.String(length=128), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uscc', 'policy_id', 'policy_version', 'kind',
                            name='uq_notifications_once'))
    op.create_index('ix_notifications_uscc', 'notifications', ['uscc'])
    op.create_index('ix_notifications_policy_id', 'notifications', ['policy_id'])
    op.create_index('ix_notifications_due', 'notifications', ['status', 'next_attempt_at'])
    op.create_table(
        'notification_optouts',
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('via', sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint('uscc'))


def downgrade() -> None:
    op.drop_table('notification_optouts')
    op.drop_index('ix_notifications_due', table_name='notifications')
    op.drop_index('ix_notifications_policy_id', table_name='notifications')
    op.drop_index('ix_notifications_uscc', table_name='notifications')
    op.drop_table('notifications')
