"""The policy store (政策体检): policy items, and every version of each with who, when, why.

Revision ID: 0010_policies
Revises: 0009_username_case
Create Date: 2026-12-07 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_policies'
down_revision = '0009_username_case'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'policy_items',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_policy_items_status', 'policy_items', ['status'])
    op.create_table(
        'policy_versions',
        sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('policy_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('why', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('pk'),
        sa.UniqueConstraint('policy_id', 'version'))
    op.create_index('ix_policy_versions_policy_id', 'policy_versions', ['policy_id'])


def downgrade() -> None:
    op.drop_index('ix_policy_versions_policy_id', table_name='policy_versions')
    op.drop_table('policy_versions')
    op.drop_index('ix_policy_items_status', table_name='policy_items')
    op.drop_table('policy_items')
