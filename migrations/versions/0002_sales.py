"""Sales: content hash, refunds kept before their sale, processed Stripe events, decisions

Revision ID: 0002_sales
Revises: 0001_foundation
Create Date: 2026-11-28 02:33:12.125789

"""
from alembic import op
import sqlalchemy as sa

import rewards.dbtypes


# revision identifiers, used by Alembic.
revision = '0002_sales'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('received_at', rewards.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('sale_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', rewards.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_decisions_decided_by_id_users')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_decisions_referral_id_referrals')),
    sa.ForeignKeyConstraint(['sale_id'], ['sales.id'], name=op.f('fk_decisions_sale_id_sales')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_referral_id_id', ['referral_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_sale_id'), ['sale_id'], unique=False)

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sale_ref', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=10), nullable=True))
        batch_op.alter_column('sale_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_refunds_sale_ref'), ['sale_ref'], unique=False)

    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_sales_referral_code'), ['referral_code'], unique=False)



def downgrade():
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_referral_code'))
        batch_op.drop_column('content_hash')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_sale_ref'))
        batch_op.alter_column('sale_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('source')
        batch_op.drop_column('sale_ref')

    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_sale_id'))
        batch_op.drop_index('ix_decisions_referral_id_id')

    op.drop_table('decisions')
    op.drop_table('stripe_events')
