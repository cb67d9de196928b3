"""One 好差评 question per closed ticket (issue 21): two marks on the ticket.

``rating_prompt_claimed_at`` is the lease a hand-back takes to ask; ``rating_prompted_at``
says the question is in the record (handoff/rating_prompt.py). Tickets already closed are
marked asked (their hand-backs ran under the old code), except those of a conversation whose
hand-back still waits in the outbox: that one has not asked yet, and will, once.

Revision ID: 0011_rating_prompt
Revises: 0010_policies
Create Date: 2026-12-07 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_rating_prompt'
down_revision = '0010_policies'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoff_tickets') as batch:
        batch.add_column(sa.Column('rating_prompt_claimed_at', sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('rating_prompted_at', sa.DateTime(timezone=True),
                                   nullable=True))
    # Closed and handed back already: asked under the old code (or never to be asked).
    op.execute(sa.text(
        "UPDATE handoff_tickets SET rating_prompted_at = closed_at "
        "WHERE closed_at IS NOT NULL AND conversation_id NOT IN "
        "(SELECT conversation_id FROM handoff_outbox WHERE kind = 'returned')"))


def downgrade() -> None:
    with op.batch_alter_table('handoff_tickets') as batch:
        batch.drop_column('rating_prompted_at')
        batch.drop_column('rating_prompt_claimed_at')
