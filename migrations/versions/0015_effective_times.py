"""Effective times: a ledger transaction counts when it happened (Stripe's `created` for what Stripe did), and a
transfer reversal keeps Stripe's time of it. Existing rows keep counting when they were posted or recorded.

Revision ID: 0015_effective_times
Revises: 0014_accounts
Create Date: 2026-11-28 13:00:00

"""
from alembic import op
import sqlalchemy as sa

import rewards.dbtypes


# revision identifiers, used by Alembic.
revision = '0015_effective_times'
down_revision = '0014_accounts'
branch_labels = None
depends_on = None


def _add_time(table: str, column: str, copied_from: str, immutable_trigger: str | None = None):
    """Add a NOT NULL time column filled from another, and its index."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column(column, rewards.dbtypes.UTCDateTime(timezone=True), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres and immutable_trigger:  # the ledger refuses updates: this one fills a new column, nothing else
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {immutable_trigger}")
    op.execute(f"UPDATE {table} SET {column} = {copied_from}")
    if postgres and immutable_trigger:
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {immutable_trigger}")
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(column, existing_type=rewards.dbtypes.UTCDateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def upgrade():
    _add_time('ledger_transactions', 'effective_at', 'created_at', 'ledger_transactions_immutable')
    _add_time('payout_reversals', 'reversed_at', 'created_at')


def downgrade():
    with op.batch_alter_table('payout_reversals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_reversals_reversed_at'))
        batch_op.drop_column('reversed_at')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_effective_at'))
        batch_op.drop_column('effective_at')
