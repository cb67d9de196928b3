"""The enterprise register (一企一档, issue 24): enterprises by 统一社会信用代码, their facts
(append-only: a new value never overwrites the old, each with its source, as-of date, who
loaded it and in which batch) and the register's audit log of reads, exports and imports.

Revision ID: 0013_enterprises
Revises: 0012_entry_policy_ids
Create Date: 2026-12-07 15:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_enterprises'
down_revision = '0012_entry_policy_ids'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'enterprises',
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('uscc'))
    op.create_table(
        'enterprise_facts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('field', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('loaded_by', sa.String(length=64), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('batch', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['uscc'], ['enterprises.uscc']),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_enterprise_facts_uscc_field', 'enterprise_facts', ['uscc', 'field'])
    op.create_index('ix_enterprise_facts_source', 'enterprise_facts', ['source'])
    op.create_table(
        'register_audit',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_register_audit_uscc', 'register_audit', ['uscc'])
    op.create_index('ix_register_audit_at', 'register_audit', ['at'])


def downgrade() -> None:
    op.drop_index('ix_register_audit_at', table_name='register_audit')
    op.drop_index('ix_register_audit_uscc', table_name='register_audit')
    op.drop_table('register_audit')
    op.drop_index('ix_enterprise_facts_source', table_name='enterprise_facts')
    op.drop_index('ix_enterprise_facts_uscc_field', table_name='enterprise_facts')
    op.drop_table('enterprise_facts')
    op.drop_table('enterprises')
