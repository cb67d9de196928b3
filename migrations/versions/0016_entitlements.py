"""batch runs over the register and the departments' 免申即享 work lists (issue 24)

Revision ID: 0016_entitlements
Revises: 0015_enterprise_sessions
Create Date: 2026-12-07 16:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_entitlements'
down_revision = '0015_enterprise_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'batch_runs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('trigger', sa.String(length=32), nullable=False),
        sa.Column('by', sa.String(length=64), nullable=False),
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('enterprise_count', sa.Integer(), nullable=False),
        sa.Column('policy_count', sa.Integer(), nullable=False),
        sa.Column('eligible', sa.Integer(), nullable=False),
        sa.Column('possible', sa.Integer(), nullable=False),
        sa.Column('work_item_count', sa.Integer(), nullable=False),
        sa.Column('notification_count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'work_items',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('policy_version', sa.Integer(), nullable=False),
        sa.Column('rule_version', sa.String(length=16), nullable=False),
        sa.Column('department', sa.String(length=128), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('why', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('granted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('granted_by', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('policy_id', 'policy_version', 'uscc', name='uq_work_items_once'),
    )
    op.create_index('ix_work_items_department_status', 'work_items', ['department', 'status'])
    op.create_index('ix_work_items_policy_id', 'work_items', ['policy_id'])
    op.create_index('ix_work_items_uscc', 'work_items', ['uscc'])


def downgrade() -> None:
    op.drop_index('ix_work_items_uscc', table_name='work_items')
    op.drop_index('ix_work_items_policy_id', table_name='work_items')
    op.drop_index('ix_work_items_department_status', table_name='work_items')
    op.drop_table('work_items')
    op.drop_table('batch_runs')
