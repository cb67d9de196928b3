"""差评 work orders: review (属实 / 不属实, overturn) and rectification (1、5、15 timers)

One row per 不满意 / 非常不满意 rating (``rating_event_pk``); a later rating of the same case
supersedes the row instead of deleting it (``ratings/cases.py``).

Revision ID: 0008_bad_ratings
Revises: 0007_kb_review
Create Date: 2026-12-04 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_bad_ratings'
down_revision = '0007_kb_review'
branch_labels = None
depends_on = None


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=False, server_default='')


def _name(name: str) -> sa.Column:
    return sa.Column(name, sa.String(length=64), nullable=False, server_default='')


def _time(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        'bad_rating_cases',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('rating_event_pk', sa.Integer(), nullable=False),
        sa.Column('case_key', sa.String(length=128), nullable=False),
        sa.Column('conversation_id', sa.String(length=96), nullable=False),
        _name('ticket_id'),
        sa.Column('rating', sa.String(length=16), nullable=False),
        _text('reason'),
        _name('department'),
        _name('handler'),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False, server_default='open'),
        sa.Column('verdict', sa.String(length=8), nullable=False, server_default=''),
        _text('review_note'),
        _name('reviewed_by'),
        _time('reviewed_at'),
        sa.Column('overturned', sa.Boolean(), nullable=False, server_default=sa.false()),
        _name('overturned_by'),
        _time('overturned_at'),
        _text('overturn_note'),
        sa.Column('complexity', sa.String(length=8), nullable=False, server_default='simple'),
        _time('contacted_at'),
        _name('contacted_by'),
        _text('contact_note'),
        _time('fixed_at'),
        _name('fixed_by'),
        _text('fix_note'),
        _time('followed_up_at'),
        _name('followed_up_by'),
        _text('follow_up_note'),
        _time('superseded_at'),
        sa.Column('superseded_by_event_pk', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['rating_event_pk'], ['events.pk']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('rating_event_pk'),
    )
    with op.batch_alter_table('bad_rating_cases', schema=None) as batch_op:
        for column in ('case_key', 'conversation_id', 'department', 'opened_at', 'status'):
            batch_op.create_index(batch_op.f(f'ix_bad_rating_cases_{column}'), [column])


def downgrade() -> None:
    with op.batch_alter_table('bad_rating_cases', schema=None) as batch_op:
        for column in ('status', 'opened_at', 'department', 'conversation_id', 'case_key'):
            batch_op.drop_index(batch_op.f(f'ix_bad_rating_cases_{column}'))
    op.drop_table('bad_rating_cases')
