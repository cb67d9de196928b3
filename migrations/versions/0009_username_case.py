"""Usernames unique whatever their case: ``Demo`` and ``demo`` are one account name.

Logins already look names up case-insensitively (``xiaobao.accounts.find_account``); this
index makes the database refuse a second spelling too. An install that already holds two
spellings keeps both accounts, lossless: each later one is renamed ``<name>~<id>`` (its
password, roles and history unchanged) and the migration says so, for an administrator to
rename properly with ``xiaobao users``.

Revision ID: 0009_username_case
Revises: 0008_bad_ratings
Create Date: 2026-12-06 00:00:00
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = '0009_username_case'
down_revision = '0008_bad_ratings'
branch_labels = None
depends_on = None

INDEX = 'uq_accounts_username_lower'
log = logging.getLogger('alembic.runtime.migration')


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text('SELECT id, username FROM accounts ORDER BY id')).all()
    seen: set[str] = set()
    for account_id, username in rows:
        key = username.lower()
        if key in seen:
            suffix = f'~{account_id}'
            renamed = username[:64 - len(suffix)] + suffix  # the column holds 64
            conn.execute(sa.text('UPDATE accounts SET username = :n WHERE id = :i'),
                         {'n': renamed, 'i': account_id})
            log.warning('account %s: username %r differs from an older one only in case; '
                        'renamed %r', account_id, username, renamed)
        seen.add(key)
    op.create_index(INDEX, 'accounts', [sa.text('lower(username)')], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='accounts')
