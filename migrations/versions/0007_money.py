"""A `paid` or `release` ledger transaction points at the `batch` transaction it settles (once: unique).

Revision ID: 0007_money
Revises: 0006_dashboard_perf
Create Date: 2026-11-28 09:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_money'
down_revision = '0006_dashboard_perf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_transaction_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_ledger_transactions_batch_transaction_id'),
                                          ['batch_transaction_id'])
        batch_op.create_foreign_key(batch_op.f('fk_ledger_transactions_batch_transaction_id_ledger_transactions'),
                                    'ledger_transactions', ['batch_transaction_id'], ['id'])


def downgrade():
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ledger_transactions_batch_transaction_id_ledger_transactions'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_ledger_transactions_batch_transaction_id'), type_='unique')
        batch_op.drop_column('batch_transaction_id')
