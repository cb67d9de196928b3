"""enterprise sign-in sessions (一网通办 法人, issue 24)

Server-side like the console's: keyed by the SHA-256 of the cookie's random token, with the
统一社会信用代码 and name the identity provider vouched for.

Revision ID: 0015_enterprise_sessions
Revises: 0014_notifications
Create Date: 2026-12-07 16:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_enterprise_sessions'
down_revision = '0014_notifications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'enterprise_sessions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('enterprise_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_sessions_uscc'), ['uscc'])
        batch_op.create_index(batch_op.f('ix_enterprise_sessions_expires_at'), ['expires_at'])


def downgrade() -> None:
    with op.batch_alter_table('enterprise_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_sessions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_enterprise_sessions_uscc'))
    op.drop_table('enterprise_sessions')
