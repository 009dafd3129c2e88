"""The dashboard's period index also holds the referral id, so its one pass gives the period's id range.

Revision ID: 0006_dashboard_perf
Revises: 0005_merge
Create Date: 2026-11-28 03:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006_dashboard_perf'
down_revision = '0005_merge'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_created_status_referrer')
        batch_op.create_index('ix_referrals_created_status_referrer_id', ['created_at', 'status', 'referrer_id', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_created_status_referrer_id')
        batch_op.create_index('ix_referrals_created_status_referrer', ['created_at', 'status', 'referrer_id'],
                              unique=False)
