"""one message table for a conversation; the handoff outbox

Bot turns used to be ``events`` rows of kind ``chat_message`` and live turns
``handoff_transcript`` rows (which also held copies of the bot turns made when a ticket
opened). Both move into ``messages``; the copies are dropped, the events become
``message_received`` / ``bot_answer``-free pointers only where a user spoke.

Revision ID: 0005_messages_outbox
Revises: 0004_handoff
Create Date: 2026-12-01 00:40:00
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0005_messages_outbox'
down_revision = '0004_handoff'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'messages',
        sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=96), nullable=False),
        sa.Column('ticket_id', sa.String(length=32), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('author', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('pk'),
        sa.UniqueConstraint('client_id'),
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_conversation_id'), ['conversation_id'])
        batch_op.create_index(batch_op.f('ix_messages_ticket_id'), ['ticket_id'])
        batch_op.create_index(batch_op.f('ix_messages_at'), ['at'])

    op.create_table(
        'handoff_outbox',
        sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=96), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('pk'),
    )
    with op.batch_alter_table('handoff_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_outbox_created_at'), ['created_at'])

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_pk', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_events_message_pk'), ['message_pk'])

    _move_turns()

    with op.batch_alter_table('handoff_transcript', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_transcript_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_handoff_transcript_ticket_id'))
    op.drop_table('handoff_transcript')


def _data(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value or {}


def _move_turns() -> None:
    """Bot-mode turns (events) and live turns (transcripts) into ``messages``, in time order."""
    conn = op.get_bind()
    events = sa.table('events', sa.column('pk', sa.Integer), sa.column('kind', sa.String),
                      sa.column('conversation_id', sa.String), sa.column('actor', sa.String),
                      sa.column('data', sa.JSON), sa.column('at', sa.DateTime(timezone=True)),
                      sa.column('message_pk', sa.Integer))
    transcript = sa.table('handoff_transcript', sa.column('pk', sa.Integer),
                          sa.column('ticket_id', sa.String),
                          sa.column('conversation_id', sa.String), sa.column('role', sa.String),
                          sa.column('author', sa.String), sa.column('text', sa.Text),
                          sa.column('message_id', sa.String),
                          sa.column('at', sa.DateTime(timezone=True)))
    tickets = sa.table('handoff_tickets', sa.column('id', sa.String),
                       sa.column('created_at', sa.DateTime(timezone=True)))
    messages = sa.Table('messages', sa.MetaData(),
                        sa.Column('pk', sa.Integer, primary_key=True, autoincrement=True),
                        sa.Column('conversation_id', sa.String), sa.Column('ticket_id', sa.String),
                        sa.Column('role', sa.String), sa.Column('author', sa.String),
                        sa.Column('text', sa.Text), sa.Column('data', sa.JSON),
                        sa.Column('client_id', sa.String),
                        sa.Column('at', sa.DateTime(timezone=True)))

    turns = []  # (at, order, row, event pk or None)
    for pk, conv, actor, data, at in conn.execute(
            sa.select(events.c.pk, events.c.conversation_id, events.c.actor, events.c.data,
                      events.c.at).where(events.c.kind == 'chat_message')):
        data = _data(data)
        extra = {k: data[k] for k in ('buttons', 'payload') if data.get(k)}
        turns.append((str(at), 0, pk, {
            'conversation_id': conv, 'ticket_id': None, 'role': data.get('role') or actor,
            'author': '', 'text': data.get('text', ''), 'data': extra, 'client_id': None,
            'at': at}, pk))
    opened = {tid: str(at) for tid, at in conn.execute(sa.select(tickets.c.id,
                                                                 tickets.c.created_at))}
    for pk, tid, conv, role, author, text, client_id, at in conn.execute(
            sa.select(transcript.c.pk, transcript.c.ticket_id, transcript.c.conversation_id,
                      transcript.c.role, transcript.c.author, transcript.c.text,
                      transcript.c.message_id, transcript.c.at)):
        # Copies of bot-mode turns made when the ticket opened: already in the events.
        if client_id is None and role in ('user', 'bot') and str(at) == opened.get(tid):
            continue
        turns.append((str(at), 1, pk, {
            'conversation_id': conv, 'ticket_id': tid, 'role': role, 'author': author or '',
            'text': text, 'data': {}, 'client_id': client_id, 'at': at}, None))
    turns.sort(key=lambda t: (t[0], t[1], t[2]))
    for _at, _order, _pk, row, event_pk in turns:
        result = conn.execute(messages.insert().values(**row))
        if event_pk is not None:
            new_pk = result.inserted_primary_key[0]
            if row['role'] == 'user':
                conn.execute(events.update().where(events.c.pk == event_pk).values(
                    kind='message_received', message_pk=new_pk, data={}))
            else:
                conn.execute(events.delete().where(events.c.pk == event_pk))


def downgrade() -> None:
    op.create_table(
        'handoff_transcript',
        sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('ticket_id', sa.String(length=32), nullable=False),
        sa.Column('conversation_id', sa.String(length=96), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('author', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('message_id', sa.String(length=64), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('pk'),
        sa.UniqueConstraint('message_id'),
    )
    with op.batch_alter_table('handoff_transcript', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_transcript_conversation_id'),
                              ['conversation_id'])
        batch_op.create_index(batch_op.f('ix_handoff_transcript_ticket_id'), ['ticket_id'])
    op.execute("INSERT INTO handoff_transcript (ticket_id, conversation_id, role, author, text, "
               "message_id, at) SELECT ticket_id, conversation_id, role, author, text, "
               "client_id, at FROM messages WHERE ticket_id IS NOT NULL")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_message_pk'))
        batch_op.drop_column('message_pk')
    op.drop_table('handoff_outbox')
    op.drop_table('messages')
