"""Payouts: payout accounts (Stripe Connect), payout batches, their items (one transfer each) and reversals.

Revision ID: 0010_payouts
Revises: 0007_money
Create Date: 2026-11-28 09:10:00

"""
import sqlalchemy as sa
from alembic import op

from rewards.dbtypes import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0010_payouts'
down_revision = '0007_money'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'payout_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('stripe_account_id', sa.String(length=64), nullable=False),
        sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
        sa.Column('transfers_capability', sa.String(length=20), nullable=False),
        sa.Column('details_submitted', sa.Boolean(), nullable=False),
        sa.Column('requirements_due', sa.JSON(), nullable=False),
        sa.Column('disabled_reason', sa.String(length=100), nullable=True),
        sa.Column('state_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_payout_accounts_customer_id_customers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_accounts')),
        sa.UniqueConstraint('customer_id', name=op.f('uq_payout_accounts_customer_id')),
        sa.UniqueConstraint('stripe_account_id', name=op.f('uq_payout_accounts_stripe_account_id')),
    )
    op.create_table(
        'payout_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('minimum_amount', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('skipped', sa.JSON(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_at', UTCDateTime(), nullable=True),
        sa.Column('cancelled_at', UTCDateTime(), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint('total >= 0', name=op.f('ck_payout_batches_total_not_negative')),
        sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_payout_batches_approved_by_id_users')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payout_batches_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_batches')),
    )
    with op.batch_alter_table('payout_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_batches_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_batches_status'), ['status'], unique=False)
    op.create_table(
        'payout_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('destination', sa.String(length=64), nullable=True),
        sa.Column('transfer_group', sa.String(length=80), nullable=False),
        sa.Column('stripe_transfer_id', sa.String(length=64), nullable=True),
        sa.Column('attempt_generation', sa.Integer(), nullable=False),
        sa.Column('attempt_state', sa.String(length=10), nullable=False),
        sa.Column('idempotency_key', sa.String(length=100), nullable=True),
        sa.Column('key_first_sent_at', UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=True),
        sa.Column('lease_owner', sa.String(length=40), nullable=True),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('failure_code', sa.String(length=100), nullable=True),
        sa.Column('failure_message', sa.Text(), nullable=True),
        sa.Column('reference', sa.String(length=200), nullable=True),
        sa.Column('paid_at', UTCDateTime(), nullable=True),
        sa.Column('paid_by_id', sa.Integer(), nullable=True),
        sa.Column('batch_transaction_id', sa.Integer(), nullable=True),
        sa.Column('reversed_amount', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_payout_items_amount_positive')),
        sa.CheckConstraint('reversed_amount >= 0 AND reversed_amount <= amount',
                           name=op.f('ck_payout_items_reversed_within_amount')),
        sa.ForeignKeyConstraint(['batch_id'], ['payout_batches.id'], name=op.f('fk_payout_items_batch_id_payout_batches')),
        sa.ForeignKeyConstraint(['batch_transaction_id'], ['ledger_transactions.id'],
                                name=op.f('fk_payout_items_batch_transaction_id_ledger_transactions')),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_payout_items_customer_id_customers')),
        sa.ForeignKeyConstraint(['paid_by_id'], ['users.id'], name=op.f('fk_payout_items_paid_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_items')),
        sa.UniqueConstraint('batch_id', 'customer_id', name='uq_payout_items_batch_customer'),
        sa.UniqueConstraint('stripe_transfer_id', name=op.f('uq_payout_items_stripe_transfer_id')),
        sa.UniqueConstraint('transfer_group', name=op.f('uq_payout_items_transfer_group')),
    )
    with op.batch_alter_table('payout_items', schema=None) as batch_op:
        batch_op.create_index('ix_payout_items_batch_status', ['batch_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_items_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_items_status'), ['status'], unique=False)
    op.create_table(
        'payout_reversals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('stripe_transfer_id', sa.String(length=64), nullable=False),
        sa.Column('reversed_to', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=255), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint('amount > 0', name=op.f('ck_payout_reversals_amount_positive')),
        sa.ForeignKeyConstraint(['item_id'], ['payout_items.id'], name=op.f('fk_payout_reversals_item_id_payout_items')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_reversals')),
        sa.UniqueConstraint('item_id', 'reversed_to', name='uq_payout_reversals_item_to'),
    )
    with op.batch_alter_table('payout_reversals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_reversals_item_id'), ['item_id'], unique=False)


def downgrade():
    op.drop_table('payout_reversals')
    op.drop_table('payout_items')
    op.drop_table('payout_batches')
    op.drop_table('payout_accounts')
