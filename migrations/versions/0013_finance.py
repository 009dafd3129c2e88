"""Finance: referrers' tax details (tax id encrypted at rest).

Revision ID: 0013_finance
Revises: 0006_dashboard_perf
Create Date: 2026-11-28 09:30:00

"""
from alembic import op
import sqlalchemy as sa

import rewards.dbtypes


# revision identifiers, used by Alembic.
revision = '0013_finance'
down_revision = '0006_dashboard_perf'
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


def downgrade():
    op.drop_table('tax_details')
