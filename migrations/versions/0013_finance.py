"""Finance: referrers' tax details (tax id encrypted at rest), reconciliation runs, payout items by settlement time.

Revision ID: 0013_finance
Revises: 0010_payouts
Create Date: 2026-11-28 09:30:00

"""
from alembic import op
import sqlalchemy as sa

import rewards.dbtypes


# revision identifiers, used by Alembic.
revision = '0013_finance'
down_revision = '0010_payouts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tax_details',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('legal_name', sa.String(length=200), nullable=True),
        sa.Column('country', sa.String(length=2), nullable=True),
        sa.Column('tax_id_encrypted', sa.Text(), nullable=True),
        sa.Column('updated_at', rewards.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_tax_details_customer_id_customers')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_tax_details_updated_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_details')),
        sa.UniqueConstraint('customer_id', name=op.f('uq_tax_details_customer_id')),
    )
    op.create_table(
        'reconciliation_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('differences', sa.JSON(), nullable=False),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('via', sa.String(length=8), nullable=False),
        sa.Column('run_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', rewards.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['run_by_id'], ['users.id'], name=op.f('fk_reconciliation_runs_run_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_runs')),
    )
    with op.batch_alter_table('reconciliation_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_runs_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('payout_items', schema=None) as batch_op:
        batch_op.create_index('ix_payout_items_paid_at', ['paid_at'], unique=False)


def downgrade():
    with op.batch_alter_table('payout_items', schema=None) as batch_op:
        batch_op.drop_index('ix_payout_items_paid_at')
    op.drop_table('reconciliation_runs')
    op.drop_table('tax_details')
